using PatroniAgent.Tests.EndToEnd;

namespace PatroniAgent.Tests.Packaging;

/// <summary>src/PatroniAgent/Packaging/patroni-agent.service, read as systemd reads it.</summary>
public class SystemdUnitTests
{
    private static readonly string UnitPath =
        Path.Combine(PublishedAgent.RepositoryRoot, "src", "PatroniAgent", "Packaging", "patroni-agent.service");

    /// <summary>Every <c>Key=value</c> line of the unit as (section, key, value), comments and blank lines left out.</summary>
    private static List<(string Section, string Key, string Value)> ReadUnit()
    {
        List<(string, string, string)> entries = [];
        string section = "";
        foreach (string raw in File.ReadAllLines(UnitPath))
        {
            string line = raw.Trim();
            if (line.Length == 0 || line[0] is '#' or ';')
            {
                continue;
            }
            if (line.StartsWith('[') && line.EndsWith(']'))
            {
                section = line[1..^1];
                continue;
            }
            int equals = line.IndexOf('=');
            Assert.True(equals > 0, $"not a Key=value line: {line}");
            entries.Add((section, line[..equals].Trim(), line[(equals + 1)..].Trim()));
        }
        return entries;
    }

    private static string Single(string key) =>
        Assert.Single(ReadUnit(), e => e.Section == "Service" && e.Key == key).Value;

    [Fact]
    public void ExecStart_starts_the_binary_itself_with_the_config_file()
    {
        Assert.Equal("/usr/bin/patroni-agent --config /etc/patroni-agent/patroni-agent.conf", Single("ExecStart"));
    }

    [Fact]
    public void It_is_a_notify_service_restarted_always_as_a_dedicated_user()
    {
        Assert.Equal("notify", Single("Type"));
        Assert.Equal("always", Single("Restart"));
        Assert.Equal("1", Single("RestartSec"));
        Assert.Equal("2", Single("RestartPreventExitStatus"));
        Assert.Equal("patroni-agent", Single("User"));
        Assert.Equal("patroni-agent", Single("Group"));
    }

    [Theory]
    [InlineData("NoNewPrivileges", "yes")]
    [InlineData("ProtectSystem", "strict")]
    [InlineData("ProtectHome", "yes")]
    [InlineData("PrivateTmp", "yes")]
    [InlineData("PrivateDevices", "yes")]
    [InlineData("CapabilityBoundingSet", "")]
    [InlineData("AmbientCapabilities", "")]
    [InlineData("RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX")]
    [InlineData("LockPersonality", "yes")]
    [InlineData("MemoryDenyWriteExecute", "yes")]
    [InlineData("SystemCallArchitectures", "native")]
    [InlineData("ProtectKernelTunables", "yes")]
    [InlineData("ProtectControlGroups", "yes")]
    public void Hardening_line(string key, string value)
    {
        Assert.Equal(value, Single(key));
    }

    [Fact]
    public void Nothing_is_writable_and_nothing_runs_before_or_around_the_binary()
    {
        string[] forbidden = ["ReadWritePaths", "ExecStartPre", "ExecStartPost", "DynamicUser", "PermissionsStartOnly"];
        Assert.DoesNotContain(ReadUnit(), e => forbidden.Contains(e.Key));
    }

    [Fact]
    public void Systemd_analyze_verify_accepts_the_unit()
    {
        string directory = Directory.CreateTempSubdirectory("patroni-agent-unit-").FullName;
        try
        {
            // verify checks that ExecStart is an executable file: the published binary stands in for /usr/bin/patroni-agent.
            string unit = File.ReadAllText(UnitPath).Replace("ExecStart=/usr/bin/patroni-agent ", $"ExecStart={PublishedAgent.Path} ");
            string copy = Path.Combine(directory, "patroni-agent.service");
            File.WriteAllText(copy, unit);

            var result = PublishedAgent.Run("systemd-analyze", ["verify", copy], TimeSpan.FromSeconds(60));

            Assert.Equal(0, result.ExitCode);
            Assert.Equal("", result.Error + result.Output);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
