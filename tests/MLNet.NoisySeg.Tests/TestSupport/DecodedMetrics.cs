using MLNet.NoisySeg.Decoding;
using MLNet.NoisySeg.Evaluation;

namespace MLNet.NoisySeg.Tests.TestSupport;

/// <summary>Decodes binary probability maps with a rule and scores them against masks (the loop the decoding tests share).</summary>
internal static class DecodedMetrics
{
    /// <summary>Binary metrics of <paramref name="rule"/> applied to every map (K = 1) against its mask.</summary>
    public static BinarySegmentationMetrics Of(IReadOnlyList<float[]> probs, IReadOnlyList<byte[]> masks, DecodingRule rule)
    {
        var ev = new BinarySegmentationEvaluator();
        for (int i = 0; i < probs.Count; i++)
        {
            var pred = new byte[masks[i].Length];
            rule.Decode(probs[i], 1, pred);
            ev.Add(masks[i], pred);
        }
        return ev.GetMetrics();
    }
}
