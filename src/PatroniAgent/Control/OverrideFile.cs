using System.Text;
using PatroniAgent.Policy;

namespace PatroniAgent.Control;

/// <summary>
/// The state file that keeps the operator's override across agent restarts: one line,
/// <c>drain [REASON]</c> or <c>maint [REASON]</c>; no file means no override. Written by the
/// <c>drain</c>, <c>maint</c> and <c>ready</c> commands, read by the agent when it starts.
/// </summary>
public static class OverrideFile
{
    /// <summary>Longest file accepted: the override line fits many times over.</summary>
    private const int MaxBytes = 1024;

    /// <summary>
    /// Writes <paramref name="applied"/> (null deletes the file) atomically: a temporary file in the same
    /// directory, flushed to disk, then renamed over the old one, so a crash leaves the old or the new line.
    /// </summary>
    /// <exception cref="IOException">The directory or the file cannot be written.</exception>
    /// <exception cref="UnauthorizedAccessException">No permission.</exception>
    public static void Write(string path, OperatorOverride? applied)
    {
        if (applied is null)
        {
            File.Delete(path);
            return;
        }
        string directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(directory, ControlChannel.DirectoryMode);
        string temporary = Path.Combine(directory, $".{Path.GetFileName(path)}.{Environment.ProcessId}.tmp");
        try
        {
            var options = new FileStreamOptions
            {
                Mode = FileMode.Create,
                Access = FileAccess.Write,
                UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead,
            };
            using (var stream = new FileStream(temporary, options))
            {
                stream.Write(Encoding.ASCII.GetBytes(applied + "\n"));
                stream.Flush(flushToDisk: true);
            }
            File.Move(temporary, path, overwrite: true);
        }
        finally
        {
            File.Delete(temporary);
        }
    }

    /// <summary>
    /// Reads the override in <paramref name="path"/>: null when there is no file. A file that cannot be read
    /// or holds no valid override gives <c>maint</c>, since the operator meant some override, with
    /// <paramref name="problem"/> saying why.
    /// </summary>
    public static OperatorOverride? Read(string path, out string? problem)
    {
        problem = null;
        byte[] bytes;
        try
        {
            using var stream = File.OpenRead(path);
            bytes = new byte[MaxBytes + 1];
            int length = stream.ReadAtLeast(bytes, bytes.Length, throwOnEndOfStream: false);
            if (length > MaxBytes)
            {
                return Unusable(path, $"longer than {MaxBytes} bytes", out problem);
            }
            Array.Resize(ref bytes, length);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return Unusable(path, e is UnauthorizedAccessException ? "access denied" : e.Message, out problem);
        }
        string text = Encoding.Latin1.GetString(bytes);
        if (text.EndsWith('\n'))
        {
            text = text[..^1];
        }
        return OperatorOverride.TryParse(text, out var parsed, out var error) ? parsed : Unusable(path, error, out problem);
    }

    private static OperatorOverride Unusable(string path, string why, out string problem)
    {
        problem = $"state file {path} is unusable ({why}); answering maint until \"patroni-agent ready\" or \"maint\" rewrites it";
        return new OperatorOverride(AgentProtocol.Admin.Maint, "state file unusable, see the agent log");
    }
}
