// Loads the embedded data sets through the data layer and prints their shapes and class counts.
// Usage: dotnet run --project src/Samples/DataInfo [datasets-folder]
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.NoisySeg.Data;

string root = args.Length > 0 ? args[0] : Path.Combine(AppContext.BaseDirectory, "datasets");
var ml = new MLContext(seed: 0);
var sets = new (string Name, string Folder, SegmentationFolderOptions Options, string[] Classes)[]
{
    ("ISBI 2012 EM membranes", "isbi2012_em_membrane", SegmentationFolderOptions.BinaryMasks(foregroundValue: 0), ["cell", "membrane"]),
    ("CamVid (11 classes, half resolution)", "camvid11_small", SegmentationFolderOptions.ClassIndexMasks(11, ignoreValue: 11),
        ["Sky", "Building", "Pole", "Road", "Pavement", "Tree", "SignSymbol", "Fence", "Car", "Pedestrian", "Bicyclist"]),
};
foreach (var (name, folder, options, classes) in sets)
{
    Console.WriteLine($"== {name}");
    foreach (var split in new[] { "train", "test" })
    {
        var view = ml.Data.LoadFromSegmentationFolder(Path.Combine(root, folder, split), options);
        var image = (VectorDataViewType)view.Schema[SegmentationColumnNames.Image].Type;
        var mask = (VectorDataViewType)view.Schema[SegmentationColumnNames.Mask].Type;
        var counts = new long[256];
        int rows = 0;
        foreach (var m in view.GetColumn<VBuffer<byte>>(SegmentationColumnNames.Mask))
        {
            foreach (var v in m.DenseValues()) counts[v]++;
            rows++;
        }
        long total = counts.Sum();
        Console.WriteLine($"  {split}: {rows} images, Image {image}, Mask {mask}");
        Console.WriteLine("    " + string.Join(", ", classes.Select((c, i) => $"{c} {100.0 * counts[i] / total:0.0}%"))
            + (counts[255] > 0 ? $", ignore {100.0 * counts[255] / total:0.0}%" : ""));
    }
}
// Expected output (embedded data):
// == ISBI 2012 EM membranes
//   train: 20 images, Image Vector<Single, 1, 512, 512>, Mask Vector<Byte, 512, 512>
//     cell 77.1%, membrane 22.9%
//   test: 10 images, Image Vector<Single, 1, 512, 512>, Mask Vector<Byte, 512, 512>
//     cell 79.9%, membrane 20.1%
// == CamVid (11 classes, half resolution)
//   train: 30 images, Image Vector<Single, 3, 180, 240>, Mask Vector<Byte, 180, 240>
//     Sky 16.1%, Building 24.6%, Pole 1.0%, Road 31.2%, Pavement 4.3%, Tree 10.0%, SignSymbol 1.0%, Fence 1.7%, Car 5.9%, Pedestrian 0.4%, Bicyclist 0.3%, ignore 3.4%
//   test: 10 images, Image Vector<Single, 3, 180, 240>, Mask Vector<Byte, 180, 240>
//     Sky 17.5%, Building 23.5%, Pole 1.2%, Road 25.8%, Pavement 8.5%, Tree 13.3%, SignSymbol 1.3%, Fence 1.4%, Car 3.4%, Pedestrian 0.7%, Bicyclist 0.2%, ignore 3.3%
