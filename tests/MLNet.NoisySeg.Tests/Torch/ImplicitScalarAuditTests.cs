using System.Reflection;
using System.Reflection.Emit;
using MLNet.NoisySeg.Torch;
using TorchSharp;

namespace MLNet.NoisySeg.Tests.Torch;

/// <summary>
/// The deterministic half of the scalar-lifetime guard (<see cref="ScalarLifetimeTests"/> is the behavioural half): reads
/// the IL of every method of the library and of the TorchSharp methods it calls (following direct calls a few levels
/// into TorchSharp), and fails on any implicit conversion to <see cref="Scalar"/> on that path. Such a scalar is
/// finalized, not disposed, and TorchSharp 0.107 does not keep it alive across the native call (see <see cref="LiveScalars"/>).
/// </summary>
[TestClass]
public sealed class ImplicitScalarAuditTests
{
    private const int TorchSharpDepth = 4;

    private static readonly Dictionary<short, OpCode> OpCodesByValue = typeof(OpCodes)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Select(f => (OpCode)f.GetValue(null)!)
        .ToDictionary(o => o.Value);

    /// <summary>The methods a method body calls or constructs (call, callvirt, newobj, ldftn).</summary>
    private static IEnumerable<MethodBase> Callees(MethodBase method)
    {
        byte[]? il;
        try { il = method.GetMethodBody()?.GetILAsByteArray(); }
        catch (Exception e) when (e is InvalidOperationException or NotSupportedException) { yield break; }
        if (il is null) yield break;
        Type[]? typeArgs = method.DeclaringType is { IsGenericType: true } t ? t.GetGenericArguments() : null;
        Type[]? methodArgs = method.IsGenericMethod ? method.GetGenericArguments() : null;
        for (int i = 0; i < il.Length;)
        {
            short value = il[i] == 0xFE ? (short)(0xFE00 | il[i + 1]) : il[i];
            i += il[i] == 0xFE ? 2 : 1;
            OpCode op = OpCodesByValue[value];
            int size = op.OperandType switch
            {
                OperandType.InlineNone => 0,
                OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar => 1,
                OperandType.InlineVar => 2,
                OperandType.InlineI8 or OperandType.InlineR => 8,
                OperandType.InlineSwitch => 4 + 4 * BitConverter.ToInt32(il, i),
                _ => 4,
            };
            if (op.OperandType == OperandType.InlineMethod)
            {
                MethodBase? callee = null;
                try { callee = method.Module.ResolveMethod(BitConverter.ToInt32(il, i), typeArgs, methodArgs); }
                catch (Exception e) when (e is ArgumentException or BadImageFormatException or TypeLoadException) { }
                if (callee is not null) yield return callee;
            }
            i += size;
        }
    }

    private static bool IsImplicitScalar(MethodBase m)
        => m.Name == "op_Implicit" && m is MethodInfo mi && mi.ReturnType == typeof(Scalar);

    private static string Name(MethodBase m)
        => $"{m.DeclaringType?.FullName}.{m.Name}({string.Join(", ", m.GetParameters().Select(p => p.ParameterType.Name))})";

    /// <summary>Paths from <paramref name="roots"/> to an implicit scalar, following direct calls into TorchSharp.</summary>
    private static SortedSet<string> ImplicitScalarPaths(IEnumerable<MethodBase> roots)
    {
        var torchSharp = typeof(Scalar).Assembly;
        var findings = new SortedSet<string>(StringComparer.Ordinal);
        var seen = new HashSet<MethodBase>();
        var queue = new Queue<(MethodBase Method, int Depth, string Path)>();
        foreach (var m in roots)
            if (seen.Add(m)) queue.Enqueue((m, 0, Name(m)));
        while (queue.Count > 0)
        {
            var (method, depth, path) = queue.Dequeue();
            foreach (var callee in Callees(method))
            {
                if (IsImplicitScalar(callee)) { findings.Add(path); continue; }
                if (callee.DeclaringType?.Assembly != torchSharp || depth >= TorchSharpDepth) continue;
                if (seen.Add(callee)) queue.Enqueue((callee, depth + 1, $"{path} -> {Name(callee)}"));
            }
        }
        return findings;
    }

    private const BindingFlags Declared = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;

    /// <summary>The one-input <c>forward</c> of a module type; null for containers without one (ModuleList).</summary>
    private static MethodBase? Forward(Type moduleType)
        => moduleType.GetMethods(BindingFlags.Public | BindingFlags.Instance).FirstOrDefault(m => m.Name == "forward" && m.GetParameters().Length == 1);

    [TestMethod]
    public void TheLibrary_NeverLetsTorchSharpCreateAScalarForIt()
    {
        var library = typeof(LiveScalars).Assembly;
        var methods = library.GetTypes().SelectMany(t => t.GetMethods(Declared).Cast<MethodBase>().Concat(t.GetConstructors(Declared))).ToList();
        Assert.IsTrue(methods.Count > 1000, $"only {methods.Count} methods found");
        var findings = ImplicitScalarPaths(methods);
        Assert.AreEqual(0, findings.Count, "Implicit TorchSharp scalars on the library's call paths (pass LiveScalars or a `using` scalar):\n" + string.Join("\n", findings));
    }

    /// <summary>
    /// Calls the static scan cannot follow: the U-Net reaches its layers through <c>Module.call</c>. Every layer type of
    /// both U-Net variants is scanned, except BatchNorm2d, which <see cref="MLNet.NoisySeg.Networks.UNet"/> runs itself.
    /// </summary>
    [TestMethod]
    public void TheUNetsLayers_DoNotCreateImplicitScalars_ExceptTorchSharpsBatchNorm()
    {
        var layerTypes = new HashSet<Type>();
        foreach (var upsampling in new[] { MLNet.NoisySeg.Networks.UNetUpsampling.TransposedConv, MLNet.NoisySeg.Networks.UNetUpsampling.Bilinear })
        {
            using var net = new MLNet.NoisySeg.Networks.UNet(new MLNet.NoisySeg.Networks.UNetOptions { Depth = 2, BaseWidth = 4, Upsampling = upsampling });
            foreach (var module in net.modules()) layerTypes.Add(module.GetType());
        }
        Assert.IsTrue(layerTypes.Contains(typeof(TorchSharp.Modules.BatchNorm2d)));
        var forwards = layerTypes.Where(t => t != typeof(TorchSharp.Modules.BatchNorm2d)).Select(Forward).OfType<MethodBase>().ToList();
        Assert.IsTrue(forwards.Count >= 6, $"{forwards.Count} layer types"); // UNet, Sequential, Conv2d, ReLU, MaxPool2d, ConvTranspose2d, Upsample
        var findings = ImplicitScalarPaths(forwards);
        Assert.AreEqual(0, findings.Count, string.Join("\n", findings));

        // The reason the U-Net runs batch normalisation and the optimizers itself. When these fail, TorchSharp keeps its
        // scalars alive now and LiveScalars, UNet.BatchNorm and LiveScalarOptimizers can go.
        Assert.AreNotEqual(0, ImplicitScalarPaths([Forward(typeof(TorchSharp.Modules.BatchNorm2d))!]).Count, "TorchSharp's BatchNorm.forward");
        foreach (var optimizer in new[] { typeof(TorchSharp.Modules.Adam), typeof(TorchSharp.Modules.SGD) })
        {
            var step = optimizer.GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.DeclaredOnly).Single(m => m.Name == "step");
            var closures = optimizer.GetNestedTypes(BindingFlags.NonPublic).SelectMany(t => t.GetMethods(Declared));
            Assert.AreNotEqual(0, ImplicitScalarPaths(closures.Prepend(step)).Count, optimizer.Name);
        }
    }
}
