// NoisySeg.Benchmarks: timings with ratios against the Python references, measured in the same run.
//   dotnet run -c Release -- [kernels|load|train|tiles|quality|scalar-race] [options]
//   kernels (default): label-noise, morphology and density kernels against NumPy/SciPy/scikit-image
//                      (see KernelBenchmark: --sizes 512,2048 --repeats 7 --reference <dir> --no-reference)
//   load:              data layer (LoadBenchmark)
//   train:             TorchSharp trainer (TrainingBenchmark; --parts albpcde, --python PATH, --reference DIR,
//                      --ref-plain-env, sizes/rounds options; prints the CPU model and AVX-512 beside every figure)
//   tiles:             a 2048x2048 EM mosaic predicted whole and by tiles: time, peak RSS, difference (TiledBenchmark)
//   quality:           finding planted label errors on ISBI and CamVid (QualityBenchmark; docs/label-quality.md)
//   scalar-race:       the TorchSharp scalar race the library works around (ScalarRaceProbe; docs/reproduction.md)
using NoisySeg.Benchmarks;

string verb = args.Length > 0 && !args[0].StartsWith("--", StringComparison.Ordinal) ? args[0] : "kernels";
string[] rest = args.Length > 0 && args[0] == verb ? args[1..] : args;
return verb switch
{
    "kernels" => KernelBenchmark.Run(rest),
    "load" => LoadBenchmark.Run(),
    "train" => TrainingBenchmark.Run(rest),
    "tiles" => TiledBenchmark.Run(rest),
    "quality" => QualityBenchmark.Run(rest),
    "scalar-race" => ScalarRaceProbe.Run(rest),
    _ => Usage(verb),
};

static int Usage(string verb)
{
    Console.Error.WriteLine($"Unknown benchmark '{verb}'. Usage: NoisySeg.Benchmarks [kernels|load|train|tiles|quality|scalar-race] [options]");
    return 2;
}
