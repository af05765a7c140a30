namespace MLNet.NoisySeg.Noise;

/// <summary>The label corruptions of the study (see <see cref="LabelNoiseSpec"/> for the exact definitions).</summary>
public enum LabelNoiseKind
{
    /// <summary>CL: the ground truth, unchanged. Text form <c>clean</c>.</summary>
    Clean,

    /// <summary>RCL sampling(s), binary: keep exactly ceil(s·N_fg) random foreground pixels. Text form <c>sampling(0.1)</c>.</summary>
    Sampling,

    /// <summary>RCL flipping(f, b), binary: keep ceil((1-f)·N_fg) foreground pixels and turn
    /// N_bg - ceil((1-b)·N_bg) background pixels into foreground. Text form <c>flip(0.45,0.45)</c>.</summary>
    Flipping,

    /// <summary>RL random(r), binary: every pixel foreground with probability r, ignoring the truth. Text form <c>random(0.3)</c>.</summary>
    Random,

    /// <summary>PCL: binary dilation with a disk of radius k. Text form <c>dilate(2)</c>.</summary>
    Dilate,

    /// <summary>PCL: binary erosion with a disk of radius k. Text form <c>erode(1)</c>.</summary>
    Erode,

    /// <summary>PCL: topology-preserving skeleton. Text form <c>skeleton</c>.</summary>
    Skeleton,

    /// <summary>Pixel shift(r): every foreground pixel moves by uniform offsets in [-r, r]. Text form <c>shift(1)</c>.</summary>
    Shift,

    /// <summary>Boundary-biased flipping (Theorem 1), binary: flip a fraction e of the pixels within
    /// distance d of the other class. Text form <c>boundaryflip(2,0.5)</c>.</summary>
    BoundaryFlip,

    /// <summary>Multi-class: per pixel, the noisy class is drawn from row Q[true, :]. Text form <c>ntm([[0.9,0.1],[0.2,0.8]])</c>.</summary>
    TransitionMatrix,

    /// <summary>Multi-class symmetric flip(e): stay with 1-e, else a uniformly random other class.
    /// Text form <c>symflip(0.5,classes=4)</c>.</summary>
    SymmetricFlip,

    /// <summary>Multi-class sampling(s): keep ceil(s·N_c) pixels of every non-background class c,
    /// the rest become the background class. Text form <c>classsample(0.1,bg=0)</c>.</summary>
    ClassSampling,

    /// <summary>Multi-class PCL: every non-background class dilates into the background class. Text form <c>classdilate(1,bg=0)</c>.</summary>
    ClassDilate,

    /// <summary>Multi-class PCL: every non-background class is eroded; eroded pixels become background. Text form <c>classerode(1,bg=0)</c>.</summary>
    ClassErode,

    /// <summary>Multi-class RL: every pixel's class drawn from a prior, ignoring the truth. Text form <c>randomprior([0.5,0.3,0.2])</c>.</summary>
    RandomPrior,
}
