using MLNet.NoisySeg.Unsupervised;

static class Variants
{
    public static IgttOptions Apply(IgttOptions o, Args a) => o with
    {
        InitialPrediction = a.Get("init", "image") == "image" ? IgttInitialPrediction.Image : IgttInitialPrediction.Network,
        Polarity = Enum.Parse<ForegroundPolarity>(a.Get("polarity", "Auto"), true),
        AreaGuard = a.Get("guard", "nogrowth") switch { "mixture" => IgttAreaGuard.TwoLevelMixture, "nogrowth" => IgttAreaGuard.NoGrowth, "prior" => IgttAreaGuard.PriorOnly, var g => throw new ArgumentException(g) },
        MaxForegroundShare = a.Dbl("maxshare", 0.5),
        KeepFraction = a.Dbl("keep", 0.1),
    };
    public static string Describe(IgttResult r) => $"orientation: {r.Orientation}";
}
