using Microsoft.ML.Data;

namespace MLNet.NoisySeg.Pipelines;

/// <summary>
/// What a segmentation model's pipeline checks about its image column: the image shape it was trained on. The check
/// runs before the chain (<see cref="ChainBackedTransformer"/>) when the column's size is known, and per row otherwise.
/// </summary>
internal static class SegmentationInputCheck
{
    /// <summary>The image column with its trained shape <c>[C, H, W]</c> (not checked for models that did not record the column).</summary>
    public static FittedInput Image(SegmentationState state)
        => new(state.ImageColumn, NumberDataViewType.Single, "image", [state.Channels, state.Height, state.Width], "segmentation model", Hint(state));

    /// <summary>What to do about an image of another size.</summary>
    public static string Hint(SegmentationState state)
        => $" The network is fully convolutional: SegmentationTransformer.Predict takes an image of any size; in a pipeline, resize or tile the images to {state.Height}x{state.Width}.";
}
