using MLNet.NoisySeg.Data.Synthetic;
using MLNet.NoisySeg.Study;
using MLNet.NoisySeg.Tests.TestSupport;
using SkiaSharp;

namespace MLNet.NoisySeg.Tests.Study;

/// <summary>The report's image panels read without the code: titled columns, and a density map that is visible for sparse labels, with its scale.</summary>
[TestClass]
public sealed class StudyPanelsTests
{
    [TestMethod]
    public void Panel_HasTitledColumns_AndScalesASparseDensityToItsMaximum()
    {
        var o = new SyntheticFluorescenceOptions { Kind = SyntheticFluorescenceKind.Nuclei, Width = 64, Height = 64, NucleusRadiusMin = 5, NucleusRadiusMax = 9 };
        var item = SyntheticData.FluorescenceBatch(o, 3, 1)[0].AsLoaded();
        var clean = item.Mask!;
        // 10% of the foreground kept: the density of the corrupted mask stays below about 0.1 everywhere.
        var sparse = new byte[clean.Length];
        for (int i = 0, k = 0; i < clean.Length; i++)
            if (clean[i] == 1 && k++ % 10 == 0) sparse[i] = 1;
        Assert.IsTrue(sparse.Count(v => v == 1) > 5);
        using var temp = TestPaths.NewTemp();
        string path = Path.Combine(temp.Path, "panel.png");

        StudyPanels.Write(path, item, clean, sparse, clean, classCount: 2, bandwidth: 5);

        using var png = SKBitmap.Decode(path);
        int tile = 128, gap = 6; // 64-pixel images are shown twice as large, so that the titles fit
        Assert.AreEqual(5 * tile + 4 * gap, png.Width);
        Assert.IsTrue(png.Height > tile + 30, $"room for titles and the scale: {png.Height}");
        int top = png.Height - tile - 30; // the title band (the scale band below the tiles is 30 pixels)
        // Titles: dark text above every column.
        for (int c = 0; c < 5; c++)
        {
            bool text = false;
            for (int y = 0; y < top && !text; y++)
                for (int x = c * (tile + gap); x < c * (tile + gap) + tile && !text; x++)
                    text = png.GetPixel(x, y).Red < 128;
            Assert.IsTrue(text, $"column {c} ({StudyPanels.Titles[c]}) has no title");
        }
        // The density column reaches the top of its scale (yellow), although the density itself stays near 0.1.
        int left = 3 * (tile + gap);
        var brightest = Enumerable.Range(top, tile).SelectMany(y => Enumerable.Range(left, tile).Select(x => png.GetPixel(x, y)))
            .MaxBy(p => p.Red + p.Green);
        Assert.IsTrue(brightest.Red > 200 && brightest.Green > 200 && brightest.Blue < 100, $"brightest density pixel {brightest}");
        Assert.AreEqual(StudyPanels.DensityColor(1), (brightest.Red, brightest.Green, brightest.Blue));
    }
}
