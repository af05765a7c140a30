// Usage: ModelLoadProbe <model.zip> <split-folder> <binary:FG | classes:N[:IGNORE]> <column> <out.bin>
// Loads the model with plain mlContext.Model.Load in this fresh process, transforms the split folder and
// writes the column's values (float32 or byte, row after row) to out.bin.
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.NoisySeg.Data;

if (args.Length != 5)
{
    Console.Error.WriteLine("usage: ModelLoadProbe <model.zip> <split-folder> <binary:FG|classes:N[:IGNORE]> <column> <out.bin>");
    return 2;
}
var enc = args[2].Split(':');
var options = enc[0] == "binary"
    ? SegmentationFolderOptions.BinaryMasks(int.Parse(enc[1]))
    : SegmentationFolderOptions.ClassIndexMasks(int.Parse(enc[1]), enc.Length > 2 ? int.Parse(enc[2]) : null);
var ml = new MLContext(seed: 0).RegisterNoisySeg();
var data = ml.Data.LoadFromSegmentationFolder(args[1], options);
var model = ml.Model.Load(args[0], out _);
var output = model.Transform(data);
var column = output.Schema[args[3]];
using var file = File.Create(args[4]);
using var writer = new BinaryWriter(file);
var itemType = ((VectorDataViewType)column.Type).ItemType;
if (itemType == NumberDataViewType.Single)
    foreach (var v in output.GetColumn<VBuffer<float>>(column)) foreach (var x in v.DenseValues()) writer.Write(x);
else
    foreach (var v in output.GetColumn<VBuffer<byte>>(column)) foreach (var x in v.DenseValues()) writer.Write(x);
Console.WriteLine($"wrote {file.Length} bytes of {column.Name} ({column.Type})");
// What the library did to the process on its own (no TorchRuntime.Configure here): libtorch's threads only.
Console.WriteLine($"runtime: {MLNet.NoisySeg.Torch.TorchRuntime.Status?.ToString() ?? "libtorch not used"}");
return 0;
