using System.Runtime.Versioning;
using PatroniAgent.AgentProtocol;
using PatroniAgent.Control;
using PatroniAgent.Policy;

namespace PatroniAgent.Tests.Control;

/// <summary>The override state file: written whole or not at all, read back, and a bad file answered as maint.</summary>
[UnsupportedOSPlatform("windows")]
public sealed class OverrideFileTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("patroni-agent-state-").FullName;

    private string StatePath => Path.Combine(_directory, "lib", "override");

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void Written_overrides_read_back_and_ready_deletes_the_file()
    {
        Assert.Null(OverrideFile.Read(StatePath, out string? problem));
        Assert.Null(problem);

        OverrideFile.Write(StatePath, new OperatorOverride(Admin.Maint, "disk replacement"));
        Assert.Equal("maint disk replacement\n", File.ReadAllText(StatePath));
        OverrideFile.Write(StatePath, new OperatorOverride(Admin.Drain, ""));
        Assert.Equal(new OperatorOverride(Admin.Drain, ""), OverrideFile.Read(StatePath, out problem));
        Assert.Null(problem);
        Assert.Equal(["override"], Directory.GetFiles(Path.GetDirectoryName(StatePath)!).Select(Path.GetFileName));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead, File.GetUnixFileMode(StatePath));

        OverrideFile.Write(StatePath, null);
        Assert.False(File.Exists(StatePath));
        OverrideFile.Write(StatePath, null);
    }

    [Theory]
    [InlineData("ready\n", "expected drain or maint, got \"ready\"")]
    [InlineData("maint a#b\n", "the reason must not contain #")]
    [InlineData("maint crlf\r\n", "printable ASCII")]
    [InlineData("", "expected drain or maint, got \"\"")]
    public void A_file_without_a_valid_override_answers_maint(string content, string why)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(StatePath)!);
        File.WriteAllText(StatePath, content);
        var read = OverrideFile.Read(StatePath, out string? problem);
        Assert.Equal(new OperatorOverride(Admin.Maint, "state file unusable, see the agent log"), read);
        Assert.Contains($"state file {StatePath} is unusable (", problem);
        Assert.Contains(why, problem);
    }

    [Fact]
    public void A_file_too_large_answers_maint()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(StatePath)!);
        File.WriteAllText(StatePath, "maint " + new string('x', 2000));
        Assert.Equal(Admin.Maint, OverrideFile.Read(StatePath, out string? problem)?.Admin);
        Assert.Contains("longer than 1024 bytes", problem);
    }

    [Fact]
    public void A_directory_that_cannot_be_created_is_an_io_error()
    {
        File.WriteAllText(Path.Combine(_directory, "lib"), "a file where the directory should be");
        Assert.ThrowsAny<IOException>(() => OverrideFile.Write(StatePath, new OperatorOverride(Admin.Maint, "")));
    }
}
