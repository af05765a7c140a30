using MLNet.NoisySeg.Core;
using MLNet.NoisySeg.Noise;

namespace MLNet.NoisySeg.Tests.Noise;

[TestClass]
public sealed class ExactSubsetTests
{
    [TestMethod]
    public void PortableBitDepositMatchesDefinition()
    {
        Assert.AreEqual(0b0100_0000u, ExactSubset.PdepPortable(0b010, 0b1110_0000)); // source bits 0,1,2 go to positions 5,6,7
        Assert.AreEqual(0u, ExactSubset.PdepPortable(0xFFFF_FFFF, 0));
        Assert.AreEqual(0xF0F0_F0F0u, ExactSubset.PdepPortable(0xFFFF, 0xF0F0_F0F0));
        var rng = new SeededRandom(3);
        for (int i = 0; i < 1000; i++)
        {
            uint s = (uint)rng.NextUInt64(), m = (uint)rng.NextUInt64();
            Assert.AreEqual(ExactSubset.PdepPortable(s, m), ExactSubset.Pdep(s, m));
        }
    }

    [TestMethod]
    [DataRow(1, 1)]
    [DataRow(64, 10)]
    [DataRow(130, 100)]
    [DataRow(1000, 0)]
    [DataRow(1000, 1000)]
    [DataRow(4097, 2049)]
    public void ChooseRanksMarksExactlyCountWithinRange(int total, int count)
    {
        var bits = new ulong[(total >> 6) + 2];
        var rng = new SeededRandom(9);
        ExactSubset.ChooseRanks(bits, total, count, ref rng);
        Assert.AreEqual(count, bits.Sum(w => System.Numerics.BitOperations.PopCount(w)));
        for (int r = total; r < bits.Length * 64; r++)
            Assert.AreEqual(0UL, bits[r >> 6] & (1UL << r), $"rank {r} is beyond the total");
    }

    [TestMethod]
    public void EveryCandidateIsEquallyLikely()
    {
        // 40 candidates scattered among 100 pixels, 12 chosen, 20000 trials: each candidate ~ 0.3.
        var candidates = new byte[100];
        for (int i = 0; i < 100; i += 5) { candidates[i] = 7; candidates[i + 2] = 7; }
        var hits = new int[100];
        var rng = new SeededRandom(5);
        var noisy = new byte[100];
        for (int t = 0; t < 20000; t++)
        {
            Array.Clear(noisy);
            ExactSubset.Apply(candidates, 7, 40, t % 2 == 0 ? 12 : 28, noisy, 1, ref rng); // also the complement path
            int chosen = 0;
            for (int i = 0; i < 100; i++)
            {
                if (noisy[i] == 1) { Assert.AreEqual(7, candidates[i]); chosen++; }
                if (t % 2 == 0) hits[i] += noisy[i];
            }
            Assert.AreEqual(t % 2 == 0 ? 12 : 28, chosen);
        }
        for (int i = 0; i < 100; i++)
            if (candidates[i] == 7) Assert.AreEqual(0.3, hits[i] / 10000.0, 0.025, $"candidate {i}");
    }
}
