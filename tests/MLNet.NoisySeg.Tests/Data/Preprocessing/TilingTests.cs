using MLNet.NoisySeg.Data.Preprocessing;

namespace MLNet.NoisySeg.Tests.Data.Preprocessing;

[TestClass]
public sealed class TilingTests
{
    [TestMethod]
    [DataRow(10, 4, 3, new[] { 0, 3, 6 })]
    [DataRow(11, 4, 4, new[] { 0, 4, 7 })]
    [DataRow(8, 4, 4, new[] { 0, 4 })]
    [DataRow(5, 5, 2, new[] { 0 })]
    [DataRow(9, 4, 1, new[] { 0, 1, 2, 3, 4, 5 })]
    public void Grid_LastTileAlignedToBorder(int length, int size, int stride, int[] expected)
    {
        var grid = new TileGrid(length, length + 1, size, stride);
        CollectionAssert.AreEqual(expected, grid.RowOrigins.ToArray());
        Assert.AreEqual(length - size, grid.RowOrigins[^1]);
        Assert.AreEqual(length + 1 - size, grid.ColumnOrigins[^1]);
        Assert.AreEqual(grid.Rows * grid.Columns, grid.Count);
    }

    [TestMethod]
    public void TileUntile_RoundTripIsExact_NonMultipleSizes()
    {
        int c = 3, h = 37, w = 29;
        var rng = new Random(11);
        var img = Enumerable.Range(0, c * h * w).Select(_ => (float)(rng.NextDouble() * 10 - 5)).ToArray();
        foreach (var (size, stride) in new[] { (16, 10), (16, 16), (7, 3), (29, 1) })
        {
            var grid = new TileGrid(h, w, size, stride);
            var tiles = Tiling.Tile(img, c, grid);
            Assert.AreEqual(grid.Count, tiles.Length);
            var back = Tiling.Untile(tiles, c, grid);
            CollectionAssert.AreEqual(img, back, $"size {size} stride {stride}");
        }
    }

    [TestMethod]
    public void Tile_ContentsMatchOrigins_AndMaskTiles()
    {
        int h = 9, w = 7;
        var mask = Enumerable.Range(0, h * w).Select(i => (byte)i).ToArray();
        var grid = new TileGrid(h, w, 4, 3);
        var tiles = Tiling.Tile(mask, grid);
        for (int t = 0; t < grid.Count; t++)
        {
            var (x0, y0) = grid.GetOrigin(t);
            for (int y = 0; y < 4; y++)
                for (int x = 0; x < 4; x++)
                    Assert.AreEqual(mask[(y0 + y) * w + x0 + x], tiles[t][y * 4 + x]);
        }
    }

    [TestMethod]
    public void Untile_AveragesOverlaps()
    {
        // 1 x 5 image is too thin for 2x2 tiles; use 2 x 5 with tiles of size 2, stride 2: origins 0, 2, 3.
        var grid = new TileGrid(2, 5, 2, 2);
        CollectionAssert.AreEqual(new[] { 0, 2, 3 }, grid.ColumnOrigins.ToArray());
        var tiles = new List<float[]> { Fill(4, 1f), Fill(4, 3f), Fill(4, 6f) };
        var result = Tiling.Untile(tiles, 1, grid);
        // columns: 0,1 -> 1; 2 -> 3; 3 -> (3 + 6) / 2; 4 -> 6
        CollectionAssert.AreEqual(new float[] { 1, 1, 3, 4.5f, 6, 1, 1, 3, 4.5f, 6 }, result);
    }

    [TestMethod]
    public void Stitcher_UncoveredPixelsAreZero_AndValidation()
    {
        var grid = new TileGrid(4, 4, 2, 2);
        var s = new TileStitcher(grid, 2);
        s.Add(0, Fill(8, 2f));
        var r = s.ToArray();
        Assert.AreEqual(2f, r[0]);
        Assert.AreEqual(2f, r[16 + 5]);
        Assert.AreEqual(0f, r[15]);
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new TileGrid(4, 4, 5, 1));
        var ex = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new TileGrid(8, 8, 4, 5));
        Assert.AreEqual("stride", ex.ParamName);
    }

    private static float[] Fill(int n, float v) => Enumerable.Repeat(v, n).ToArray();
}
