using System.Diagnostics;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using PatroniAgent.Tests.Support;

namespace PatroniAgent.ClusterTests;

/// <summary>
/// patroni-agent against a real Patroni 3.0.2 whose REST API is https only and demands a client
/// certificate (<c>verify_client: required</c>): one extra node of its own scope on 127.0.2.1,
/// against the cluster's etcd, with certificates made here. Everything it starts and writes is
/// removed at the end, also when it fails.
/// </summary>
[Collection(nameof(ClusterCollection))]
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class TlsPatroniTests : IDisposable
{
    private const string Host = "127.0.2.1";
    private const string CaName = "patroni-agent cluster test CA";
    private static readonly string Directory = "/tmp/patroni-agent-tls-cluster-test";

    private readonly string _patroniDir = Path.Combine(Directory, "patroni");
    private readonly string _agentDir = Path.Combine(Directory, "agent");
    private readonly List<Process> _processes = [];
    private readonly StringBuilder _log = new();
    private readonly X509Certificate2 _ca;
    private readonly X509Certificate2 _agentCertificate;

    // The cluster fixture is only needed for its etcd on 127.0.0.1:2379.
    public TlsPatroniTests(Cluster cluster)
    {
        Assert.NotNull(cluster);
        RemoveDirectory();
        System.IO.Directory.CreateDirectory(_patroniDir);
        System.IO.Directory.CreateDirectory(_agentDir);
        File.SetUnixFileMode(_agentDir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        _ca = TestCertificates.CreateCa(CaName);
        _agentCertificate = TestCertificates.CreateClient(_ca);
    }

    [Fact]
    public void The_agent_polls_an_https_patroni_with_its_client_certificate_and_is_refused_without_or_with_a_stranger()
    {
        StartPatroni();
        string caFile = Write(_agentDir, "ca.pem", _ca.ExportCertificatePem());
        string[] common = ["--patroni-url", $"https://{Host}:8008", "--patroni-ca-file", caFile, "--poll-interval", "100ms", "--stale-after", "2s"];
        Start("agent-with-certificate", AgentPath(),
        [
            "--listen", $"{Host}:5555=primary", .. common,
            "--patroni-cert-file", Write(_agentDir, "agent.pem", _agentCertificate.ExportCertificatePem()),
            "--patroni-key-file", Write(_agentDir, "agent-key.pem", TestCertificates.PrivateKeyPem(_agentCertificate)),
        ]);
        Start("agent-without-certificate", AgentPath(), ["--listen", $"{Host}:5556=primary", .. common]);
        var stranger = TestCertificates.CreateClient(TestCertificates.CreateCa(CaName), "stranger");
        Start("agent-with-a-stranger-certificate", AgentPath(),
        [
            "--listen", $"{Host}:5557=primary", .. common,
            "--patroni-cert-file", Write(_agentDir, "stranger.pem", stranger.ExportCertificatePem()),
            "--patroni-key-file", Write(_agentDir, "stranger-key.pem", TestCertificates.PrivateKeyPem(stranger)),
        ]);

        var ready = WaitForAnswer(5555, a => a.StartsWith("up ready"), TimeSpan.FromSeconds(90));
        Assert.StartsWith("up ready 100% #primary", ready);

        // Patroni refused connections until it listened: the reasons change from that to the TLS failures within a poll or two.
        const string demands = "down #patroni demands a client certificate\n", refused = "down #patroni refused our client certificate\n";
        WaitForAnswer(5556, a => a == demands, TimeSpan.FromSeconds(10));
        WaitForAnswer(5557, a => a == refused, TimeSpan.FromSeconds(10));
        var withoutCertificate = new List<string>();
        var withStranger = new List<string>();
        for (int i = 0; i < 20; i++)
        {
            withoutCertificate.Add(WaitForAnswer(5556, _ => true, TimeSpan.FromSeconds(5)));
            withStranger.Add(WaitForAnswer(5557, _ => true, TimeSpan.FromSeconds(5)));
            Thread.Sleep(100);
        }
        Assert.All(withoutCertificate, a => Assert.Equal(demands, a));
        Assert.All(withStranger, a => Assert.Equal(refused, a));
        Assert.StartsWith("up ready 100% #primary", WaitForAnswer(5555, _ => true, TimeSpan.FromSeconds(5)));
    }

    private void StartPatroni()
    {
        string scope = "tls-" + Guid.NewGuid().ToString("N")[..8];
        var server = TestCertificates.CreateServer(_ca, [Host], subject: "CN=" + Host);
        Write(_patroniDir, "ca.pem", _ca.ExportCertificatePem());
        Write(_patroniDir, "server.pem", server.ExportCertificatePem());
        Write(_patroniDir, "server-key.pem", TestCertificates.PrivateKeyPem(server));
        Write(_patroniDir, "patroni.yml", $"""
            scope: {scope}
            name: tls1
            log:
              level: WARNING
            restapi:
              listen: {Host}:8008
              connect_address: {Host}:8008
              certfile: {_patroniDir}/server.pem
              keyfile: {_patroniDir}/server-key.pem
              cafile: {_patroniDir}/ca.pem
              verify_client: required
            etcd3:
              hosts: 127.0.0.1:2379
            bootstrap:
              dcs:
                ttl: 10
                loop_wait: 1
                retry_timeout: 2
              initdb:
                - encoding: UTF8
              pg_hba:
                - local all all trust
                - host all all 127.0.0.0/8 trust
            postgresql:
              listen: {Host}:5432
              connect_address: {Host}:5432
              data_dir: {_patroniDir}/data
              bin_dir: /usr/lib/postgresql/15/bin
              pgpass: {_patroniDir}/pgpass
              authentication:
                replication:
                  username: replicator
                  password: replicator
                superuser:
                  username: postgres
                  password: postgres
              parameters:
                unix_socket_directories: {_patroniDir}
                shared_buffers: 16MB
                max_connections: 20
                fsync: "off"
            """);
        Run("chown", "-R", "postgres:", _patroniDir);
        File.SetUnixFileMode(_patroniDir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        Start("patroni", "runuser", ["-u", "postgres", "--", "patroni", Path.Combine(_patroniDir, "patroni.yml")]);
    }

    private static string Write(string directory, string name, string text)
    {
        var path = Path.Combine(directory, name);
        File.WriteAllText(path, text);
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return path;
    }

    private static string AgentPath()
    {
        var path = Environment.GetEnvironmentVariable("AGENT_UNDER_TEST");
        Assert.False(string.IsNullOrEmpty(path), "AGENT_UNDER_TEST names the published patroni-agent");
        return path!;
    }

    /// <summary>Starts a process whose output goes to the log shown when the test fails; it is stopped at the end.</summary>
    private void Start(string name, string file, string[] args)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in args) info.ArgumentList.Add(arg);
        var process = Process.Start(info)!;
        _processes.Add(process);
        void Note(string? line)
        {
            if (line is not null) lock (_log) _log.AppendLine($"{name}: {line}");
        }
        process.OutputDataReceived += (_, e) => Note(e.Data);
        process.ErrorDataReceived += (_, e) => Note(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    /// <summary>Asks the agent on <paramref name="port"/> as HAProxy does and returns the line it answered.</summary>
    private static string Answer(int port)
    {
        using var client = new TcpClient();
        client.Connect(Host, port);
        var stream = client.GetStream();
        stream.Write("primary\n"u8);
        using var reader = new StreamReader(stream);
        return reader.ReadLine() + "\n";
    }

    private string WaitForAnswer(int port, Func<string, bool> wanted, TimeSpan timeout)
    {
        string last = "";
        Eventually.Until(
            () =>
            {
                try
                {
                    last = Answer(port);
                    return wanted(last);
                }
                catch (Exception e) when (e is SocketException or IOException)
                {
                    last = e.Message;
                    return false;
                }
            },
            timeout, () => { lock (_log) return $"the agent on port {port} kept answering: {last}\n{_log}"; }, TimeSpan.FromMilliseconds(200));
        return last;
    }

    private static void Run(string file, params string[] args) => Assert.Equal(0, Exit(file, args));

    private static int Exit(string file, params string[] args)
    {
        var info = new ProcessStartInfo(file) { UseShellExecute = false };
        foreach (var arg in args) info.ArgumentList.Add(arg);
        using var process = Process.Start(info)!;
        process.WaitForExit();
        return process.ExitCode;
    }

    /// <summary>SIGTERM to every process started (Patroni then stops its PostgreSQL), SIGKILL to what is left after 20 s.</summary>
    public void Dispose()
    {
        foreach (var process in _processes.Where(p => !p.HasExited))
        {
            Exit("kill", "-TERM", process.Id.ToString());
        }
        foreach (var process in _processes)
        {
            if (!process.WaitForExit(TimeSpan.FromSeconds(20)))
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit();
            }
            process.Dispose();
        }
        RemoveDirectory();
    }

    private static void RemoveDirectory()
    {
        if (System.IO.Directory.Exists(Directory))
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
    }
}
