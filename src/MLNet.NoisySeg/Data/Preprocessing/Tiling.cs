using MLNet.NoisySeg.Core;
namespace MLNet.NoisySeg.Data.Preprocessing;

/// <summary>
/// The placement of square tiles over an image. Along each axis tiles start at
/// <c>0, stride, 2*stride, ...</c>; the last tile is moved back so that it ends exactly on the
/// border, hence the whole image is covered and no tile leaves it (the last overlap may be larger
/// than <c>size - stride</c>). Tiles are numbered row-major: index = row * <see cref="Columns"/> + column.
/// </summary>
public sealed class TileGrid
{
    private readonly int[] _rowOrigins;
    private readonly int[] _columnOrigins;

    /// <summary>Creates the grid; the image must be at least one tile in each direction (pad it first otherwise, e.g. with <see cref="Cropping.Pad(ReadOnlySpan{float}, int, int, int, int, int, int, int, ImagePadMode, float)"/>).</summary>
    /// <param name="height">Image height.</param>
    /// <param name="width">Image width.</param>
    /// <param name="tileSize">Tile side length, in [1, min(height, width)].</param>
    /// <param name="stride">Step between tile origins, in [1, tileSize] (equal to tileSize for no overlap).</param>
    public TileGrid(int height, int width, int tileSize, int stride)
    {
        Guard.Size(width, height, "image");
        if (tileSize < 1 || tileSize > height || tileSize > width)
            throw new ArgumentOutOfRangeException(nameof(tileSize), tileSize,
                $"tileSize must be in [1, {Math.Min(height, width)}] for a {height}x{width} image; pad smaller images first.");
        if (stride < 1 || stride > tileSize)
            throw new ArgumentOutOfRangeException(nameof(stride), stride, $"stride must be in [1, tileSize = {tileSize}] so that tiles cover the image.");
        Height = height;
        Width = width;
        TileSize = tileSize;
        Stride = stride;
        _rowOrigins = Origins(height, tileSize, stride);
        _columnOrigins = Origins(width, tileSize, stride);
    }

    /// <summary>Image height.</summary>
    public int Height { get; }

    /// <summary>Image width.</summary>
    public int Width { get; }

    /// <summary>Tile side length.</summary>
    public int TileSize { get; }

    /// <summary>Step between consecutive tile origins (except possibly the last, border-aligned one).</summary>
    public int Stride { get; }

    /// <summary>Top rows of the tile rows, increasing; the last equals <c>Height - TileSize</c>.</summary>
    public IReadOnlyList<int> RowOrigins => _rowOrigins;

    /// <summary>Left columns of the tile columns, increasing; the last equals <c>Width - TileSize</c>.</summary>
    public IReadOnlyList<int> ColumnOrigins => _columnOrigins;

    /// <summary>Number of tile rows.</summary>
    public int Rows => _rowOrigins.Length;

    /// <summary>Number of tile columns.</summary>
    public int Columns => _columnOrigins.Length;

    /// <summary>Total number of tiles.</summary>
    public int Count => Rows * Columns;

    /// <summary>Top-left corner of tile <paramref name="index"/> (row-major numbering).</summary>
    /// <param name="index">Tile index in [0, <see cref="Count"/>).</param>
    /// <returns>The tile's left column X and top row Y.</returns>
    public (int X, int Y) GetOrigin(int index)
    {
        if ((uint)index >= (uint)Count) throw new ArgumentOutOfRangeException(nameof(index), index, $"index must be in [0, {Count}).");
        return (_columnOrigins[index % Columns], _rowOrigins[index / Columns]);
    }

    private static int[] Origins(int length, int size, int stride)
    {
        int n = (length - size + stride - 1) / stride + 1; // ceil((length - size) / stride) + 1
        var origins = new int[n];
        for (int i = 0; i < n; i++) origins[i] = Math.Min(i * stride, length - size);
        return origins;
    }
}

/// <summary>
/// Cutting planar images and masks into the tiles of a <see cref="TileGrid"/>, and stitching
/// per-tile outputs (probabilities, logits) back together by averaging overlaps.
/// </summary>
public static class Tiling
{
    /// <summary>Copies one tile of a planar image.</summary>
    /// <param name="image">Image <c>[C, grid.Height, grid.Width]</c>.</param>
    /// <param name="channels">Number of channels C.</param>
    /// <param name="grid">The tile grid.</param>
    /// <param name="index">Tile index (row-major).</param>
    /// <param name="tile">Destination <c>[C, TileSize, TileSize]</c>.</param>
    public static void ExtractTile(ReadOnlySpan<float> image, int channels, TileGrid grid, int index, Span<float> tile)
    {
        ArgumentNullException.ThrowIfNull(grid);
        var (x, y) = grid.GetOrigin(index);
        Cropping.Crop(image, channels, grid.Height, grid.Width, x, y, grid.TileSize, grid.TileSize, tile);
    }

    /// <summary>Copies one tile of a mask.</summary>
    /// <param name="mask">Mask <c>[grid.Height, grid.Width]</c>.</param>
    /// <param name="grid">The tile grid.</param>
    /// <param name="index">Tile index (row-major).</param>
    /// <param name="tile">Destination <c>[TileSize, TileSize]</c>.</param>
    public static void ExtractTile(ReadOnlySpan<byte> mask, TileGrid grid, int index, Span<byte> tile)
    {
        ArgumentNullException.ThrowIfNull(grid);
        var (x, y) = grid.GetOrigin(index);
        Cropping.Crop(mask, grid.Height, grid.Width, x, y, grid.TileSize, grid.TileSize, tile);
    }

    /// <summary>Cuts an image into all tiles of <paramref name="grid"/>, in row-major tile order.</summary>
    /// <param name="image">Image <c>[C, grid.Height, grid.Width]</c>.</param>
    /// <param name="channels">Number of channels C.</param>
    /// <param name="grid">The tile grid.</param>
    /// <returns>One <c>[C, TileSize, TileSize]</c> array per tile.</returns>
    public static float[][] Tile(ReadOnlySpan<float> image, int channels, TileGrid grid)
    {
        ArgumentNullException.ThrowIfNull(grid);
        Guard.ImageSize(image.Length, channels, grid.Height, grid.Width, nameof(image));
        var tiles = new float[grid.Count][];
        for (int i = 0; i < tiles.Length; i++)
        {
            tiles[i] = new float[channels * grid.TileSize * grid.TileSize];
            ExtractTile(image, channels, grid, i, tiles[i]);
        }
        return tiles;
    }

    /// <summary>Cuts a mask into all tiles of <paramref name="grid"/>, in row-major tile order.</summary>
    /// <param name="mask">Mask <c>[grid.Height, grid.Width]</c>.</param>
    /// <param name="grid">The tile grid.</param>
    /// <returns>One <c>[TileSize, TileSize]</c> array per tile.</returns>
    public static byte[][] Tile(ReadOnlySpan<byte> mask, TileGrid grid)
    {
        ArgumentNullException.ThrowIfNull(grid);
        Guard.MaskSize(mask.Length, grid.Width, grid.Height, nameof(mask));
        var tiles = new byte[grid.Count][];
        for (int i = 0; i < tiles.Length; i++)
        {
            tiles[i] = new byte[grid.TileSize * grid.TileSize];
            ExtractTile(mask, grid, i, tiles[i]);
        }
        return tiles;
    }

    /// <summary>
    /// Stitches per-tile outputs into one image, averaging the values of overlapping tiles. Sums
    /// are accumulated in <see cref="double"/>, so tiles cut from one image stitch back to exactly
    /// that image.
    /// </summary>
    /// <param name="tiles">All tiles of the grid, in row-major order, each <c>[C, TileSize, TileSize]</c>.</param>
    /// <param name="channels">Number of channels C (for example the number of classes).</param>
    /// <param name="grid">The tile grid.</param>
    /// <returns>The stitched image <c>[C, grid.Height, grid.Width]</c>.</returns>
    public static float[] Untile(IReadOnlyList<float[]> tiles, int channels, TileGrid grid)
    {
        ArgumentNullException.ThrowIfNull(grid);
        var result = new float[(long)channels * grid.Height * grid.Width];
        Untile(tiles, channels, grid, result);
        return result;
    }

    /// <summary>Stitches per-tile outputs into <paramref name="destination"/>; see <see cref="Untile(IReadOnlyList{float[]}, int, TileGrid)"/>.</summary>
    /// <param name="tiles">All tiles of the grid, in row-major order, each <c>[C, TileSize, TileSize]</c>.</param>
    /// <param name="channels">Number of channels C.</param>
    /// <param name="grid">The tile grid.</param>
    /// <param name="destination">Destination <c>[C, grid.Height, grid.Width]</c>; fully overwritten.</param>
    public static void Untile(IReadOnlyList<float[]> tiles, int channels, TileGrid grid, Span<float> destination)
    {
        ArgumentNullException.ThrowIfNull(tiles);
        ArgumentNullException.ThrowIfNull(grid);
        if (tiles.Count != grid.Count)
            throw new ArgumentException($"tiles has {tiles.Count} tiles but the grid has {grid.Count}.", nameof(tiles));
        var stitcher = new TileStitcher(grid, channels);
        for (int i = 0; i < tiles.Count; i++) stitcher.Add(i, tiles[i]);
        stitcher.CopyTo(destination);
    }
}

/// <summary>
/// Incremental stitching of per-tile outputs (for batched inference): add tiles in any order,
/// then read the average. Pixels covered by no added tile read as 0.
/// </summary>
public sealed class TileStitcher
{
    private readonly double[] _sum;
    private readonly int[] _count;

    /// <summary>Creates an empty stitcher.</summary>
    /// <param name="grid">The tile grid.</param>
    /// <param name="channels">Number of channels per tile.</param>
    public TileStitcher(TileGrid grid, int channels)
    {
        ArgumentNullException.ThrowIfNull(grid);
        if (channels < 1) throw new ArgumentOutOfRangeException(nameof(channels), channels, "channels must be at least 1.");
        Grid = grid;
        Channels = channels;
        _sum = new double[(long)channels * grid.Height * grid.Width];
        _count = new int[grid.Height * grid.Width];
    }

    /// <summary>The tile grid.</summary>
    public TileGrid Grid { get; }

    /// <summary>Number of channels.</summary>
    public int Channels { get; }

    /// <summary>Adds the output of one tile.</summary>
    /// <param name="index">Tile index (row-major).</param>
    /// <param name="tile">Tile values <c>[Channels, TileSize, TileSize]</c>.</param>
    public void Add(int index, ReadOnlySpan<float> tile)
    {
        int s = Grid.TileSize;
        Guard.ImageSize(tile.Length, Channels, s, s, nameof(tile));
        var (x0, y0) = Grid.GetOrigin(index);
        int w = Grid.Width, plane = Grid.Height * w;
        for (int y = 0; y < s; y++)
        {
            var counts = _count.AsSpan((y0 + y) * w + x0, s);
            for (int x = 0; x < s; x++) counts[x]++;
        }
        for (int c = 0; c < Channels; c++)
        {
            for (int y = 0; y < s; y++)
            {
                var src = tile.Slice((c * s + y) * s, s);
                var dst = _sum.AsSpan(c * plane + (y0 + y) * w + x0, s);
                for (int x = 0; x < s; x++) dst[x] += src[x];
            }
        }
    }

    /// <summary>Writes the per-pixel average of the added tiles.</summary>
    /// <param name="destination">Destination <c>[Channels, Height, Width]</c>.</param>
    public void CopyTo(Span<float> destination)
    {
        Guard.ImageSize(destination.Length, Channels, Grid.Height, Grid.Width, nameof(destination));
        int plane = _count.Length;
        for (int c = 0; c < Channels; c++)
        {
            var sum = _sum.AsSpan(c * plane, plane);
            var dst = destination.Slice(c * plane, plane);
            for (int i = 0; i < plane; i++)
                dst[i] = _count[i] == 0 ? 0f : (float)(sum[i] / _count[i]);
        }
    }

    /// <summary>Returns the per-pixel average of the added tiles as a new array <c>[Channels, Height, Width]</c>.</summary>
    /// <returns>The stitched values.</returns>
    public float[] ToArray()
    {
        var result = new float[_sum.Length];
        CopyTo(result);
        return result;
    }
}
