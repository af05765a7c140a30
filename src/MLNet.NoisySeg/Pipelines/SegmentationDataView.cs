using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.NoisySeg.Data;
using MLNet.NoisySeg.Evaluation;

namespace MLNet.NoisySeg.Pipelines;

/// <summary>
/// Converts between in-memory <see cref="SegmentationItem"/> lists and ML.NET <see cref="IDataView"/>s with
/// shaped vector columns: image <c>Vector&lt;Single, C, H, W&gt;</c>, mask <c>Vector&lt;Byte, H, W&gt;</c>, name text.
/// </summary>
public static class SegmentationDataView
{
    private sealed class LabelledRow
    {
        public string Name { get; set; } = "";
        public float[] Image { get; set; } = [];
        public byte[] Mask { get; set; } = [];
        public string ImagePath { get; set; } = "";
    }

    private sealed class ImageRow
    {
        public string Name { get; set; } = "";
        public float[] Image { get; set; } = [];
        public string ImagePath { get; set; } = "";
    }

    /// <summary>
    /// Builds an <see cref="IDataView"/> over the items (no copy of the pixel arrays). All items must share one
    /// shape; the mask column is present when every item has a mask, and a text column
    /// <see cref="SegmentationColumnNames.ImagePath"/> (the image file) when every item was loaded from a file.
    /// </summary>
    /// <param name="mlContext">The ML.NET context.</param>
    /// <param name="items">The items; at least one.</param>
    /// <param name="imageColumnName">Name of the image column.</param>
    /// <param name="maskColumnName">Name of the mask column.</param>
    /// <param name="nameColumnName">Name of the file-name column.</param>
    /// <exception cref="ArgumentException">Items are empty or differ in shape.</exception>
    public static IDataView Create(MLContext mlContext, IReadOnlyList<SegmentationItem> items,
        string imageColumnName = SegmentationColumnNames.Image,
        string maskColumnName = SegmentationColumnNames.Mask,
        string nameColumnName = SegmentationColumnNames.Name)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        return Create(mlContext.Data, items, imageColumnName, maskColumnName, nameColumnName);
    }

    /// <summary>Same as <see cref="Create(MLContext, IReadOnlyList{SegmentationItem}, string, string, string)"/>, from <c>mlContext.Data</c>.</summary>
    /// <param name="data">The data catalog.</param>
    /// <param name="items">The items; at least one.</param>
    /// <param name="imageColumnName">Name of the image column.</param>
    /// <param name="maskColumnName">Name of the mask column.</param>
    /// <param name="nameColumnName">Name of the file-name column.</param>
    public static IDataView Create(DataOperationsCatalog data, IReadOnlyList<SegmentationItem> items,
        string imageColumnName = SegmentationColumnNames.Image,
        string maskColumnName = SegmentationColumnNames.Mask,
        string nameColumnName = SegmentationColumnNames.Name)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(items);
        if (items.Count == 0) throw new ArgumentException("At least one item is needed.", nameof(items));
        var first = items[0];
        foreach (var it in items)
        {
            if (it.Channels != first.Channels || it.Height != first.Height || it.Width != first.Width)
                throw new ArgumentException($"Item '{it.Name}' is {it.Channels}x{it.Height}x{it.Width} but '{first.Name}' is {first.Channels}x{first.Height}x{first.Width}; " +
                    "an IDataView column has one shape: resize (SegmentationFolderOptions.Width/Height) or tile first.", nameof(items));
        }
        bool labelled = items.All(i => i.Mask is not null);
        bool fromFiles = items.All(i => i.ImagePath is not null) && imageColumnName != SegmentationColumnNames.ImagePath;
        var imageType = new VectorDataViewType(NumberDataViewType.Single, first.Channels, first.Height, first.Width);
        if (labelled)
        {
            var def = SchemaDefinition.Create(typeof(LabelledRow));
            def[nameof(LabelledRow.Image)].ColumnType = imageType;
            def[nameof(LabelledRow.Image)].ColumnName = imageColumnName;
            def[nameof(LabelledRow.Mask)].ColumnType = new VectorDataViewType(NumberDataViewType.Byte, first.Height, first.Width);
            def[nameof(LabelledRow.Mask)].ColumnName = maskColumnName;
            def[nameof(LabelledRow.Name)].ColumnName = nameColumnName;
            if (!fromFiles) def.Remove(def[nameof(LabelledRow.ImagePath)]);
            return data.LoadFromEnumerable(items.Select(i => new LabelledRow { Name = i.Name, Image = i.Image, Mask = i.Mask!, ImagePath = i.ImagePath ?? "" }), def);
        }
        var def2 = SchemaDefinition.Create(typeof(ImageRow));
        def2[nameof(ImageRow.Image)].ColumnType = imageType;
        def2[nameof(ImageRow.Image)].ColumnName = imageColumnName;
        def2[nameof(ImageRow.Name)].ColumnName = nameColumnName;
        if (!fromFiles) def2.Remove(def2[nameof(ImageRow.ImagePath)]);
        return data.LoadFromEnumerable(items.Select(i => new ImageRow { Name = i.Name, Image = i.Image, ImagePath = i.ImagePath ?? "" }), def2);
    }

    /// <summary>
    /// Reads items back from an <see cref="IDataView"/>. The image shape comes from the column's dimensions
    /// (planar <c>[C, H, W]</c> or <c>[H, W]</c>, or interleaved <c>[H, W, C]</c> as ExtractPixels interleaves, read into
    /// planar layout); when the column has none (e.g. after a model was loaded from a zip), pass
    /// <paramref name="height"/> and <paramref name="width"/>.
    /// </summary>
    /// <param name="data">The data.</param>
    /// <param name="imageColumnName">Image column (float vector).</param>
    /// <param name="maskColumnName">Mask column (byte vector), or null to skip masks.</param>
    /// <param name="nameColumnName">Name column (text), or null to number rows.</param>
    /// <param name="height">Image height when the column type carries no dimensions.</param>
    /// <param name="width">Image width when the column type carries no dimensions.</param>
    /// <exception cref="ArgumentException">A column is missing or has the wrong type.</exception>
    public static IReadOnlyList<SegmentationItem> ReadItems(IDataView data,
        string imageColumnName = SegmentationColumnNames.Image,
        string? maskColumnName = SegmentationColumnNames.Mask,
        string? nameColumnName = SegmentationColumnNames.Name,
        int? height = null, int? width = null)
        => StreamItems(data, imageColumnName, maskColumnName, nameColumnName, height, width).ToList();

    /// <summary>
    /// The images of an image column one at a time (planar, as <see cref="ReadItems(IDataView, string, string?, string?, int?, int?)"/>
    /// reads them, without masks or names), for a pass that needs each image only once. Columns are checked now; rows
    /// as they are read.
    /// </summary>
    internal static IEnumerable<float[]> StreamImages(IDataView data, string imageColumnName)
        => StreamItems(data, imageColumnName, null, null, null, null).Select(item => item.Image);

    /// <summary>The rows of <see cref="ReadItems(IDataView, string, string?, string?, int?, int?)"/>, one at a time; the columns are checked now.</summary>
    private static IEnumerable<SegmentationItem> StreamItems(IDataView data, string imageColumnName, string? maskColumnName, string? nameColumnName,
        int? height, int? width)
    {
        ArgumentNullException.ThrowIfNull(data);
        var imageCol = SchemaChecks.RequireVector(data.Schema, imageColumnName, NumberDataViewType.Single, "image");
        var (c, h, w, interleaved) = ImageColumns.VectorShape((VectorDataViewType)imageCol.Type, imageColumnName, "image column", height, width, "");
        // Interleaved [H, W, C] vectors (ExtractPixels with interleaving) are read into planar layout, values as they are.
        var conversion = interleaved ? new ImageInputState(ImageSource.FloatVector, true, c, h, w, c, null, null, ImageScaling.None, null, 0, h, w) : null;
        return Items(data, imageColumnName, conversion, c, h, w, maskColumnName, nameColumnName);
    }

    /// <summary>
    /// Reads items with the image column converted by <paramref name="conversion"/> (MLImage, interleaved vectors; null =
    /// planar float vectors of <paramref name="c"/> x <paramref name="h"/> x <paramref name="w"/> as they are).
    /// </summary>
    internal static IReadOnlyList<SegmentationItem> ReadItems(IDataView data, string imageColumnName, ImageInputState? conversion, int c, int h, int w,
        string? maskColumnName, string? nameColumnName)
        => Items(data, imageColumnName, conversion, c, h, w, maskColumnName, nameColumnName).ToList();

    /// <summary>The rows of <see cref="ReadItems(IDataView, string, ImageInputState?, int, int, int, string?, string?)"/>, one at a time.</summary>
    private static IEnumerable<SegmentationItem> Items(IDataView data, string imageColumnName, ImageInputState? conversion, int c, int h, int w,
        string? maskColumnName, string? nameColumnName)
    {
        var imageCol = data.Schema[imageColumnName];
        DataViewSchema.Column? maskCol = maskColumnName is null ? null : SchemaChecks.RequireVector(data.Schema, maskColumnName, NumberDataViewType.Byte, "mask");
        DataViewSchema.Column? nameCol = null;
        if (nameColumnName is not null && data.Schema.GetColumnOrNull(nameColumnName) is { } nc)
        {
            if (nc.Type is not TextDataViewType) throw new ArgumentException($"Column '{nameColumnName}' must be text; found {nc.Type}.", nameof(nameColumnName));
            nameCol = nc;
        }
        var cols = new List<DataViewSchema.Column> { imageCol };
        if (maskCol is { } mc) cols.Add(mc);
        if (nameCol is { } ncol) cols.Add(ncol);
        return Rows();

        IEnumerable<SegmentationItem> Rows()
        {
            using var cursor = ExceptionUnwrapping.GetRowCursor(data, cols); // a row's error surfaces as itself, not in ML.NET's worker wrapper
            var convert = conversion is null ? null : ImageRows.Getter(cursor, imageCol, conversion);
            var imgGetter = conversion is null ? cursor.GetGetter<VBuffer<float>>(imageCol) : null;
            var maskGetter = maskCol is { } m2 ? cursor.GetGetter<VBuffer<byte>>(m2) : null;
            var nameGetter = nameCol is { } n2 ? cursor.GetGetter<ReadOnlyMemory<char>>(n2) : null;
            VBuffer<float> img = default;
            VBuffer<byte> mask = default;
            ReadOnlyMemory<char> name = default;
            long row = 0;
            while (cursor.MoveNext())
            {
                float[] pixels;
                if (convert is not null)
                {
                    pixels = convert(row);
                }
                else
                {
                    imgGetter!(ref img);
                    if (img.Length != c * h * w)
                        throw new ArgumentException($"Row {row} of column '{imageColumnName}' has {img.Length} values; expected {c}x{h}x{w} = {c * h * w}.", nameof(data));
                    pixels = new float[img.Length];
                    img.CopyTo(pixels);
                }
                byte[]? maskArr = null;
                if (maskGetter is not null)
                {
                    maskGetter(ref mask);
                    if (mask.Length != h * w)
                        throw new ArgumentException($"Row {row} of column '{maskColumnName}' has {mask.Length} values; expected {h}x{w} = {h * w}.", nameof(data));
                    maskArr = new byte[mask.Length];
                    mask.CopyTo(maskArr);
                }
                string itemName = row.ToString(System.Globalization.CultureInfo.InvariantCulture);
                if (nameGetter is not null)
                {
                    nameGetter(ref name);
                    itemName = name.ToString();
                }
                yield return new SegmentationItem(itemName, pixels, c, h, w, maskArr);
                row++;
            }
        }
    }
}

/// <summary>Reads scored rows (clean mask, predicted mask, optional probability) for the evaluation loops in <c>Evaluation/</c>.</summary>
internal static class ScoredRows
{
    /// <summary>One copy per row of the three columns, read in one pass of <paramref name="data"/>.</summary>
    public static IEnumerable<ScoredMask> Read(IDataView data, string labelColumnName, string predictedLabelColumnName, string? probabilityColumnName)
    {
        ArgumentNullException.ThrowIfNull(data);
        var label = SchemaChecks.RequireVector(data.Schema, labelColumnName, NumberDataViewType.Byte, "label");
        var predicted = SchemaChecks.RequireVector(data.Schema, predictedLabelColumnName, NumberDataViewType.Byte, "predicted label");
        DataViewSchema.Column? probability = probabilityColumnName is null ? null
            : SchemaChecks.RequireVector(data.Schema, probabilityColumnName, NumberDataViewType.Single, "probability");
        return Rows(data, label, predicted, probability);
    }

    private static IEnumerable<ScoredMask> Rows(IDataView data, DataViewSchema.Column label, DataViewSchema.Column predicted, DataViewSchema.Column? probability)
    {
        var columns = probability is { } p ? new[] { label, predicted, p } : new[] { label, predicted };
        using var cursor = ExceptionUnwrapping.GetRowCursor(data, columns);
        var getLabel = cursor.GetGetter<VBuffer<byte>>(label);
        var getPredicted = cursor.GetGetter<VBuffer<byte>>(predicted);
        var getProbability = probability is { } pc ? cursor.GetGetter<VBuffer<float>>(pc) : null;
        VBuffer<byte> l = default, pr = default;
        VBuffer<float> pb = default;
        while (cursor.MoveNext())
        {
            getLabel(ref l);
            getPredicted(ref pr);
            float[]? scores = null;
            if (getProbability is not null)
            {
                getProbability(ref pb);
                scores = pb.DenseValues().ToArray();
            }
            yield return new ScoredMask(l.DenseValues().ToArray(), pr.DenseValues().ToArray(), scores);
        }
    }
}

/// <summary>Checks shared by the options of the ML.NET components.</summary>
internal static class OptionChecks
{
    /// <summary>Throws <see cref="ArgumentException"/> naming the first empty column name.</summary>
    public static void Columns(params (string? Value, string Name)[] columns)
    {
        foreach (var (value, name) in columns)
            if (string.IsNullOrWhiteSpace(value)) throw new ArgumentException($"{name} must not be empty.", name);
    }
}

/// <summary>Schema checks shared by the ML.NET components; messages name the column and the expected type.</summary>
internal static class SchemaChecks
{
    public static DataViewSchema.Column RequireVector(DataViewSchema schema, string column, PrimitiveDataViewType itemType, string role, string hint = "")
    {
        var col = schema.GetColumnOrNull(column)
            ?? throw new ArgumentOutOfRangeException(nameof(column), column, $"The {role} column '{column}' was not found in the input schema (columns: {string.Join(", ", schema.Select(s => s.Name))}).{hint}");
        if (col.Type is not VectorDataViewType vt || vt.ItemType != itemType)
            throw new ArgumentException($"The {role} column '{column}' must be a vector of {itemType}; found {col.Type}.{hint}", nameof(column));
        return col;
    }

    public static SchemaShape.Column RequireVectorShape(SchemaShape schema, string column, PrimitiveDataViewType itemType, string role, string hint = "")
    {
        foreach (var c in schema)
        {
            if (c.Name != column) continue;
            if (c.Kind == SchemaShape.Column.VectorKind.Scalar || c.ItemType != itemType)
                throw new ArgumentException($"The {role} column '{column}' must be a vector of {itemType}; found {c.ItemType} ({c.Kind}).{hint}", nameof(column));
            return c;
        }
        throw new ArgumentOutOfRangeException(nameof(column), column, $"The {role} column '{column}' was not found in the input schema (columns: {string.Join(", ", schema.Select(s => s.Name))}).{hint}");
    }

    /// <summary>
    /// The planar <c>[C, H, W]</c> of an image vector column; an error that says what to do for interleaved <c>[H, W, C]</c>
    /// vectors (ExtractPixels with interleaving) and for vectors without dimensions (unless <paramref name="height"/> and
    /// <paramref name="width"/> are given).
    /// </summary>
    public static (int C, int H, int W) ImageShape(VectorDataViewType type, string column, int? height, int? width)
    {
        var (c, h, w, interleaved) = ImageColumns.VectorShape(type, column, "image column", height, width, "");
        if (interleaved)
            throw new ArgumentException($"The image column '{column}' is {type}: interleaved [H, W, C] pixels (ExtractPixels with interleavePixelColors: true). " +
                $"This step reads planar [C, H, W] images: extract without interleaving (the default), or put " +
                $"mlContext.Transforms.NormalizeSegmentationImage(\"Image\", \"{column}\") before it.", nameof(column));
        return (c, h, w);
    }

    /// <summary>The <c>[H, W]</c> of a mask column (see <see cref="MaskShape(VectorDataViewType, string, int?, int?)"/>).</summary>
    public static (int H, int W) MaskShape(DataViewSchema.Column column, int? height, int? width)
        => MaskShape((VectorDataViewType)column.Type, column.Name, height, width);

    /// <summary>The <c>[C, H, W]</c> of an image column (see <see cref="ImageShape(VectorDataViewType, string, int?, int?)"/>).</summary>
    public static (int C, int H, int W) ImageShape(DataViewSchema.Column column, int? height, int? width)
        => ImageShape((VectorDataViewType)column.Type, column.Name, height, width);

    /// <summary>A shaped vector type <c>[dims]</c>, or null while the shape is unknown (a dimension is 0).</summary>
    public static DataViewType? ShapedType(PrimitiveDataViewType itemType, params int[] dimensions)
        => dimensions.All(d => d > 0) ? new VectorDataViewType(itemType, dimensions) : null;

    /// <summary>A shaped byte mask type <c>[H, W]</c>, or null while the shape is unknown.</summary>
    public static DataViewType? MaskType(int height, int width) => ShapedType(NumberDataViewType.Byte, height, width);

    /// <summary>
    /// Throws <see cref="ArgumentException"/> when a row's buffer does not have the size the transform was fitted on (a
    /// column of unknown size, e.g. <c>Vector&lt;Single&gt;</c>, is checked only here, row by row).
    /// </summary>
    /// <param name="length">The row's values.</param>
    /// <param name="channels">Fitted channels (1 for masks).</param>
    /// <param name="height">Fitted height.</param>
    /// <param name="width">Fitted width.</param>
    /// <param name="role">"Mask" or "Image".</param>
    /// <param name="transform">What was fitted, e.g. "label-noise transform".</param>
    /// <param name="column">The user's column, when the state recorded it.</param>
    /// <param name="hint">Appended to the message.</param>
    /// <param name="paramName">ParamName of the exception.</param>
    public static void RequireFittedSize(int length, int channels, int height, int width, string role, string transform, string? column = null,
        string hint = "", string paramName = "input")
    {
        long expected = (long)channels * height * width;
        if (length == expected) return;
        string kind = role.ToLowerInvariant();
        string shape = role == "Mask" ? $"{height}x{width}" : $"{channels}x{height}x{width}";
        string named = column is null ? $"The {kind} column" : $"The {kind} column '{column}'";
        throw new ArgumentException($"{named} holds a row of {length} values; the {transform} was fitted on {shape} {kind}s ({expected} values).{hint}", paramName);
    }

    public static (int H, int W) MaskShape(VectorDataViewType type, string column, int? height, int? width)
    {
        var d = type.Dimensions;
        if (d.Length == 2 && d[0] > 0 && d[1] > 0) return (d[0], d[1]);
        if (height is int h && width is int w && h > 0 && w > 0) return (h, w);
        throw new ArgumentException($"Column '{column}' ({type}) carries no [H, W] dimensions; pass the mask height and width.", nameof(column));
    }
}
