namespace MLNet.NoisySeg.Data.Synthetic;

/// <summary>
/// One generated image with its ground-truth mask.
/// </summary>
/// <param name="Name">Stable name derived from the kind and index (e.g. <c>filaments-00042</c>), usable as a file name and item id.</param>
/// <param name="Image">Planar image <c>[Channels, Height, Width]</c> with values in [0, 1].</param>
/// <param name="Channels">Number of image channels (1 for fluorescence, 3 (RGB) for scenes).</param>
/// <param name="Height">Image height.</param>
/// <param name="Width">Image width.</param>
/// <param name="Mask">Row-major class indices <c>[Height, Width]</c>: 0/1 for fluorescence, 0..ClassCount-1 for scenes.</param>
public sealed record SyntheticSample(string Name, float[] Image, int Channels, int Height, int Width, byte[] Mask);
