namespace MLNet.NoisySeg.Evaluation;

/// <summary>One scored image: its clean mask, the predicted mask and (binary, optional) the foreground probability.</summary>
/// <param name="Truth">Clean class indices <c>[H, W]</c> (255 = ignore).</param>
/// <param name="Predicted">Predicted class indices, same length.</param>
/// <param name="Probability">Foreground probability per pixel for AUC (binary only), or null.</param>
public readonly record struct ScoredMask(byte[] Truth, byte[] Predicted, float[]? Probability = null);
