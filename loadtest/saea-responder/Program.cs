// The design card's acceptor, as a second responder for the load test (loadtest/README.md): a listening
// Socket on 127.0.0.1 (backlog 4096, SO_LINGER 0 inherited by every accepted socket, so closes are resets),
// accepting with one reused SocketAsyncEventArgs; the client's line is read through a System.IO.Pipelines
// PipeReader over the socket (--read pipe) or with a receive SocketAsyncEventArgs (--read saea), waited for
// up to --send-wait (20 ms, the agent's default), then one pre-encoded line is written and the socket closed.
// Per-connection state of --read saea comes from a Microsoft.Extensions.ObjectPool pool, or is new for every
// connection with --pool off.
//
//   saea-responder PORT [--read pipe|saea] [--pool on|off] [--send-wait MS] [--stats-port PORT]
//
// With --stats-port, every connection to that port gets one line and a close:
//   "answered ALLOCATED_BYTES GEN0 GEN1 GEN2\n" (GC.GetTotalAllocatedBytes(true), GC.CollectionCount(n)).
using System.Buffers;
using System.Globalization;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.ObjectPool;

namespace SaeaResponder;

internal static class Program
{
    /// <summary>What the agent answers for its primary fixture (loadtest/README.md).</summary>
    internal static ReadOnlySpan<byte> Answer => "up ready 100% #primary, timeline 1\n"u8;

    internal static readonly byte[] AnswerBytes = Answer.ToArray();

    internal static long Answered;

    internal static int SendWaitMilliseconds = 20;

    private static int Main(string[] args)
    {
        if (args.Length < 1 || !int.TryParse(args[0], NumberStyles.None, CultureInfo.InvariantCulture, out int port) || port is < 1 or > 65535)
        {
            return Usage();
        }
        string read = "pipe";
        bool pool = true;
        int statsPort = 0;
        for (int i = 1; i < args.Length; i += 2)
        {
            string? value = i + 1 < args.Length ? args[i + 1] : null;
            switch (args[i], value)
            {
                case ("--read", "pipe" or "saea"):
                    read = value;
                    break;
                case ("--pool", "on" or "off"):
                    pool = value == "on";
                    break;
                case ("--send-wait", not null) when int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int wait) && wait <= 10_000:
                    SendWaitMilliseconds = wait;
                    break;
                case ("--stats-port", not null) when int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int stats) && stats is >= 1 and <= 65535:
                    statsPort = stats;
                    break;
                default:
                    return Usage();
            }
        }

        var listener = Listen(port);
        Socket? statsListener = statsPort == 0 ? null : Listen(statsPort);
        Action<Socket> serve = read == "pipe" ? PipeConnection.Start : new DirectReader(pool).Start;
        new Acceptor(listener, serve).Start();
        Console.WriteLine($"saea-responder: listening on 127.0.0.1:{port}, reading the line through {(read == "pipe" ? "a pipe" : "a receive SocketAsyncEventArgs")}"
            + $"{(read == "saea" ? (pool ? ", pooled" : ", not pooled") : "")}, send-wait {SendWaitMilliseconds} ms");
        if (statsListener is null)
        {
            Thread.Sleep(Timeout.Infinite);
        }
        else
        {
            ServeStats(statsListener);
        }
        return 0;
    }

    private static int Usage()
    {
        Console.Error.WriteLine("usage: saea-responder PORT [--read pipe|saea] [--pool on|off] [--send-wait MS] [--stats-port PORT]");
        return 2;
    }

    private static Socket Listen(int port)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        // Inherited by every accepted socket: closing one resets it, as the agent's connections are.
        socket.LingerState = new LingerOption(true, 0);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, port));
        socket.Listen(4096);
        return socket;
    }

    /// <summary>
    /// One blocking accept at a time; the figures are read before the line is formatted, so only the accept
    /// of the asking connection (a few hundred bytes) is counted with the checks.
    /// </summary>
    private static void ServeStats(Socket listener)
    {
        for (;;)
        {
            using var client = listener.Accept();
            long answered = Interlocked.Read(ref Answered);
            long allocated = GC.GetTotalAllocatedBytes(precise: true);
            int gen0 = GC.CollectionCount(0), gen1 = GC.CollectionCount(1), gen2 = GC.CollectionCount(2);
            var line = string.Create(CultureInfo.InvariantCulture, $"{answered} {allocated} {gen0} {gen1} {gen2}\n");
            try
            {
                client.Send(Encoding.ASCII.GetBytes(line));
            }
            catch (SocketException)
            {
                // The asker went away.
            }
        }
    }

    /// <summary>Writes the answer and closes (a reset: SO_LINGER 0 from the listener).</summary>
    internal static void AnswerAndClose(Socket socket)
    {
        try
        {
            socket.Send(Answer);
            Interlocked.Increment(ref Answered);
        }
        catch (SocketException)
        {
            // Reset by the client before the answer: nothing to answer.
        }
        socket.Dispose();
    }

    /// <summary>Whether the bytes hold a line end, or as many bytes as the agent reads for one line.</summary>
    internal static bool LineDone(ReadOnlySpan<byte> received) => received.IndexOfAny((byte)'\n', (byte)'\r') >= 0 || received.Length >= 256;
}

/// <summary>AcceptAsync in a loop on one SocketAsyncEventArgs, re-armed after every connection.</summary>
internal sealed class Acceptor
{
    private readonly Socket _listener;
    private readonly Action<Socket> _serve;
    private readonly SocketAsyncEventArgs _accept = new();

    public Acceptor(Socket listener, Action<Socket> serve)
    {
        _listener = listener;
        _serve = serve;
        _accept.Completed += (_, e) =>
        {
            Accepted(e);
            Start();
        };
    }

    public void Start()
    {
        for (;;)
        {
            // On Unix an accept socket cannot be reused: every connection is a new Socket.
            _accept.AcceptSocket = null;
            if (_listener.AcceptAsync(_accept))
            {
                return;
            }
            Accepted(_accept);
        }
    }

    private void Accepted(SocketAsyncEventArgs e)
    {
        if (e.SocketError == SocketError.Success && e.AcceptSocket is { } socket)
        {
            _serve(socket);
        }
        else if (e.SocketError is not (SocketError.ConnectionAborted or SocketError.ConnectionReset or SocketError.TooManyOpenSockets))
        {
            Console.Error.WriteLine($"saea-responder: accept: {e.SocketError}");
        }
    }
}

/// <summary>--read pipe: a PipeReader over a NetworkStream of the accepted socket, one async method per connection.</summary>
internal static class PipeConnection
{
    private static readonly StreamPipeReaderOptions Options = new(bufferSize: 512, minimumReadSize: 256, leaveOpen: true);

    public static void Start(Socket socket) => _ = ServeAsync(socket);

    private static async Task ServeAsync(Socket socket)
    {
        using var stream = new NetworkStream(socket, ownsSocket: false);
        var reader = PipeReader.Create(stream, Options);
        Timer? late = null;
        bool answer = true;
        try
        {
            for (;;)
            {
                var pending = reader.ReadAsync();
                if (!pending.IsCompleted && late is null)
                {
                    // The line is late: answer anyway after send-wait (CancelPendingRead ends the read).
                    late = new Timer(Cancel, reader, Program.SendWaitMilliseconds, Timeout.Infinite);
                }
                var result = await pending.ConfigureAwait(false);
                var buffer = result.Buffer;
                if (result.IsCanceled || result.IsCompleted || Done(buffer))
                {
                    break;
                }
                reader.AdvanceTo(buffer.Start, buffer.End);
            }
        }
        catch (IOException)
        {
            answer = false; // reset by the client
        }
        finally
        {
            late?.Dispose();
            await reader.CompleteAsync().ConfigureAwait(false);
        }
        if (answer)
        {
            Program.AnswerAndClose(socket);
        }
        else
        {
            socket.Dispose();
        }
    }

    private static void Cancel(object? reader)
    {
        try
        {
            ((PipeReader)reader!).CancelPendingRead();
        }
        catch (Exception e) when (e is InvalidOperationException or ObjectDisposedException)
        {
            // Read and completed meanwhile.
        }
    }

    private static bool Done(ReadOnlySequence<byte> buffer)
    {
        if (buffer.IsSingleSegment)
        {
            return Program.LineDone(buffer.FirstSpan);
        }
        return buffer.PositionOf((byte)'\n') is not null || buffer.PositionOf((byte)'\r') is not null || buffer.Length >= 256;
    }
}

/// <summary>--read saea: ReceiveAsync on a SocketAsyncEventArgs of the connection's state, pooled or not.</summary>
internal sealed class DirectReader
{
    private readonly ObjectPool<Connection>? _pool;

    public DirectReader(bool pooled)
    {
        _pool = pooled ? new DefaultObjectPool<Connection>(new Policy(this), 1024) : null;
    }

    public void Start(Socket socket)
    {
        var connection = _pool?.Get() ?? new Connection(this);
        connection.Start(socket);
    }

    /// <summary>Back to the pool, unless it waited with a timer: a late timer callback must never meet the next connection.</summary>
    private void Release(Connection connection)
    {
        if (_pool is not null && connection.Reset())
        {
            _pool.Return(connection);
        }
        else
        {
            connection.Receive.Dispose();
        }
    }

    private sealed class Policy(DirectReader owner) : PooledObjectPolicy<Connection>
    {
        public override Connection Create() => new(owner);

        public override bool Return(Connection obj) => true;
    }

    internal sealed class Connection
    {
        private readonly DirectReader _owner;
        private readonly byte[] _buffer = new byte[256];
        private Socket? _socket;
        private int _have;
        private Timer? _late;
        private int _answered;

        public Connection(DirectReader owner)
        {
            _owner = owner;
            Receive.SetBuffer(_buffer, 0, _buffer.Length);
            Receive.Completed += (_, _) =>
            {
                if (Received())
                {
                    ReceiveMore();
                }
            };
        }

        public SocketAsyncEventArgs Receive { get; } = new();

        public void Start(Socket socket)
        {
            _socket = socket;
            ReceiveMore();
        }

        /// <summary>False when it may not be pooled again (a timer was armed).</summary>
        public bool Reset()
        {
            if (_late is not null)
            {
                // Left as it is: a callback of the disposed timer may still run and must find it answered.
                return false;
            }
            _socket = null;
            _have = 0;
            _answered = 0;
            return true;
        }

        private void ReceiveMore()
        {
            for (;;)
            {
                Receive.SetBuffer(_have, _buffer.Length - _have);
                bool pending;
                try
                {
                    pending = _socket!.ReceiveAsync(Receive);
                }
                catch (ObjectDisposedException)
                {
                    // Answered and closed at send-wait between two receives.
                    _owner.Release(this);
                    return;
                }
                if (pending)
                {
                    // The line is late: answer anyway after send-wait; closing the socket ends the receive.
                    _late ??= new Timer(static c => ((Connection)c!).Finish(), this, Program.SendWaitMilliseconds, Timeout.Infinite);
                    return;
                }
                if (!Received())
                {
                    return;
                }
            }
        }

        /// <summary>Handles a completed receive; true when the line is still incomplete and more must be read.</summary>
        private bool Received()
        {
            if (Volatile.Read(ref _answered) != 0)
            {
                // Answered at send-wait; this is the receive the close ended.
                _owner.Release(this);
                return false;
            }
            if (Receive.SocketError != SocketError.Success)
            {
                if (Interlocked.Exchange(ref _answered, 1) == 0)
                {
                    _late?.Dispose();
                    _socket!.Dispose();
                }
                _owner.Release(this);
                return false;
            }
            _have += Receive.BytesTransferred;
            if (Receive.BytesTransferred > 0 && !Program.LineDone(_buffer.AsSpan(0, _have)))
            {
                return true;
            }
            // A whole line, or the client closed its sending side: answer.
            if (Interlocked.Exchange(ref _answered, 1) == 0)
            {
                _late?.Dispose();
                Program.AnswerAndClose(_socket!);
            }
            _owner.Release(this);
            return false;
        }

        /// <summary>Send-wait is over: answer; the close completes the pending receive, which releases this state.</summary>
        private void Finish()
        {
            if (Interlocked.Exchange(ref _answered, 1) == 0)
            {
                Program.AnswerAndClose(_socket!);
            }
        }
    }
}
