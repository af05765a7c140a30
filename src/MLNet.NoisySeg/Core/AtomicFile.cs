namespace MLNet.NoisySeg.Core;

/// <summary>
/// The one way this repository writes a file that must never be seen half-written (PNGs, checkpoints, study results):
/// the bytes go to a temporary file with a unique name in the target's folder, are flushed to disk, and the temporary
/// file is renamed over the target. The temporary file is removed when anything fails, so a crash or an exception leaves
/// either the old file or the new one, and no litter.
/// </summary>
internal static class AtomicFile
{
    /// <summary>Writes <paramref name="bytes"/> to <paramref name="path"/> atomically (its folder is created if needed).</summary>
    public static void Write(string path, ReadOnlySpan<byte> bytes)
    {
        var data = bytes.ToArray();
        Write(path, stream => stream.Write(data));
    }

    /// <summary>Writes UTF-8 <paramref name="text"/> to <paramref name="path"/> atomically.</summary>
    public static void WriteText(string path, string text) => Write(path, System.Text.Encoding.UTF8.GetBytes(text));

    /// <summary>Lets <paramref name="write"/> fill the file through a stream, then publishes it atomically.</summary>
    public static void Write(string path, Action<Stream> write)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        ArgumentNullException.ThrowIfNull(write);
        string full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        string tmp = full + "." + Environment.ProcessId + "." + Guid.NewGuid().ToString("N")[..8] + ".tmp";
        try
        {
            using (var fs = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                write(fs);
                fs.Flush(flushToDisk: true);
            }
            File.Move(tmp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(tmp)) File.Delete(tmp);
        }
    }
}
