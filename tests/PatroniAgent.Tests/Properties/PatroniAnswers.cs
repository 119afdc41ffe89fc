using System.Text;
using System.Text.Json;
using FsCheck;
using FsCheck.Fluent;
using PatroniAgent.Patroni;
using PatroniAgent.Tests.Support;

namespace PatroniAgent.Tests.Properties;

/// <summary>
/// One generated answer of Patroni's <c>GET /</c>, with what it says as far as the safety invariant
/// goes: whether a correct decoder accepts it, and its state and role.
/// </summary>
/// <param name="Decodes">Whether the answer is usable: HTTP 200 or 503, a JSON object, a non-empty string
/// state and role, and every field the agent reads of its JSON type.</param>
/// <param name="Lag">The replay lag <c>GET /cluster</c> would give, applied to running replicas.</param>
public sealed record PatroniAnswer(int HttpStatus, string Body, bool Decodes, string? State, string? Role, long? Lag)
{
    /// <summary>The invariant: only a usable 200 answer of a running primary may take writes.</summary>
    public bool MayTakeWrites => Decodes && HttpStatus == 200 && State == "running" && Role is "primary" or "master";

    public byte[] Bytes => Encoding.UTF8.GetBytes(Body);

    /// <summary>What the poll of this answer gives, as <see cref="PatroniClient"/> makes it.</summary>
    public PollResult ToPollResult()
    {
        NodeStatus status;
        try
        {
            status = PatroniDecoder.DecodeStatus(HttpStatus, Bytes, out _);
        }
        catch (PatroniAnswerException e)
        {
            return PollResult.Failed(e.Message);
        }
        return status.Role == PatroniRole.Replica && status.IsRunning ? new PollResult(status with { LagBytes = Lag }, null) : new PollResult(status, null);
    }

    public override string ToString() => $"HTTP {HttpStatus} lag {Lag?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "unknown"}: {Body}";
}

/// <summary>
/// Generators of Patroni answers as 3.x and 4.x send them, and of the ways they go wrong: every role
/// and state word, arbitrary strings, the optional fields, missing fields, nulls and wrong JSON types.
/// </summary>
public static class PatroniAnswers
{
    /// <summary>One field of a body: its JSON, and whether it makes the answer unusable.</summary>
    private sealed record Field(string Key, string Json, bool Breaks, string? Text = null);

    private static readonly string[] States =
    [
        "running", "starting", "stopping", "stopped", "restarting", "crashed", "unknown", "creating replica",
        "initializing new cluster", "start failed", "stop failed", "restart failed", "restart failed (running)",
        "initdb failed", "running custom bootstrap script", "custom bootstrap failed", "starting after custom bootstrap",
        "Running", "RUNNING", " running", "running ", "running\n", "runnin", "running\u0000",
    ];

    private static readonly string[] Roles =
    [
        "master", "primary", "replica", "standby_leader", "demoted", "promoted", "uninitialized", "unknown",
        "Primary", "MASTER", "primary ", " master", "standby-leader", "leader", "sync_standby", "primary\u0000", "prim\u00e4ry",
    ];

    /// <summary>Statuses: Patroni's two, and others a proxy or a broken server may give.</summary>
    public static readonly Gen<int> HttpStatuses = Gen.Frequency(
        (4, Gen.Constant(200)),
        (4, Gen.Constant(503)),
        (2, Gen.Elements(500, 502, 504, 404, 401, 403, 301, 204, 201, 100, 0, 599, 999, -200)));

    /// <summary>Text without lone surrogates: printable, control, quote, backslash and non-ASCII characters.</summary>
    public static readonly Gen<string> Text =
        Gen.Frequency(
                (6, Gen.Choose(0x20, 0x7e)),
                (1, Gen.Choose(0, 0x1f)),
                (1, Gen.Elements((int)'"', '\\', '#', '\u00e9', '\u2028', '\uffff', 0x1F600)),
                (1, Gen.Choose(0x80, 0xd7ff)))
            .Select(char.ConvertFromUtf32)
            .ListOf()
            .Select(parts => string.Concat(parts));

    private static readonly Gen<string> LongNumber = Gen.Frequency(
        (4, Gen.Choose(0, 1_000_000).Select(n => (long)n)),
        (1, Gen.Elements(0L, 1L, -1L, long.MaxValue, long.MinValue, 67108864L, 1L << 40)))
        .Select(n => n.ToString(System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>JSON values that are not numbers a long holds: too big, fractions, exponents.</summary>
    private static readonly Gen<string> NotALong = Gen.Elements(
        "9223372036854775808", "-9223372036854775809", "99999999999999999999999999", "1e400", "1.5", "4.0", "1e3", "-0.5");

    private static readonly Gen<string> NotAString = Gen.Elements("1", "true", "false", "{}", "[]", "[\"running\"]", "{\"x\":1}", "0.5");

    private static readonly Gen<string> NotABool = Gen.Elements("1", "0", "\"true\"", "\"yes\"", "{}", "[]", "\"\"");

    private static readonly Gen<string> NotAnObject = Gen.Elements("1", "true", "\"x\"", "[]", "[{}]");

    /// <summary>Values of any JSON type, a few levels deep, for fields the agent does not read.</summary>
    private static readonly Gen<string> AnyValue = Gen.Sized(size => AnyValueOfDepth(Math.Min(size / 20, 3)));

    private static Gen<string> AnyValueOfDepth(int depth)
    {
        var scalar = Gen.OneOf(
            Gen.Elements("null", "true", "false", "0", "-1", "1.5e300", "\"streaming\"", "\"2026-11-25 17:14:27.530444+00:00\""),
            LongNumber,
            NotALong,
            Text.Select(Json));
        if (depth == 0)
        {
            return scalar;
        }
        var inner = AnyValueOfDepth(depth - 1);
        return Gen.Frequency(
            (3, scalar),
            (1, Gen.Choose(0, 4).SelectMany(inner.ListOf).Select(items => "[" + string.Join(",", items) + "]")),
            (1, Gen.Choose(0, 4).SelectMany(inner.ListOf).Select(items => "{" + string.Join(",", items.Select((item, i) => $"\"k{i}\":{item}")) + "}")));
    }

    /// <summary>A string as a JSON string literal.</summary>
    public static string Json(string text) => JsonSerializer.Serialize(text);

    /// <summary>
    /// A field's generator from its usable values and those that make the answer unusable; a tidy
    /// answer (<paramref name="messy"/> false) only has usable ones, so that most answers decode.
    /// </summary>
    private static Gen<Field?> Pick(bool messy, (int, Gen<Field?>)[] usable, (int, Gen<Field?>)[] unusable) =>
        Gen.Frequency(messy ? [.. usable, .. unusable] : usable);

    /// <summary>The state or the role: a word, any text, or missing, null, empty or of another type.</summary>
    private static Gen<Field?> StringField(bool messy, string key, string[] words) => Pick(messy,
        [
            (12, Gen.Elements(words).Select(word => (Field?)new Field(key, Json(word), false, word))),
            (2, Text.Select(text => (Field?)new Field(key, Json(text), text.Length == 0, text))),
        ],
        [
            (1, Gen.Constant<Field?>(null)),
            (1, Gen.Constant<Field?>(new Field(key, "null", true))),
            (1, NotAString.Select(json => (Field?)new Field(key, json, true))),
        ]);

    private static Gen<Field?> LongField(bool messy, string key) => Pick(messy,
        [
            (6, LongNumber.Select(json => (Field?)new Field(key, json, false))),
            (2, Gen.Constant<Field?>(null)),
            (1, Gen.Constant<Field?>(new Field(key, "null", false))),
        ],
        [
            (1, NotALong.Select(json => (Field?)new Field(key, json, true))),
            (1, Gen.Elements("\"4\"", "true", "[]", "{}").Select(json => (Field?)new Field(key, json, true))),
        ]);

    private static Gen<Field?> BoolField(bool messy, string key) => Pick(messy,
        [
            (3, Gen.Constant<Field?>(null)),
            (3, Gen.Elements("true", "false", "null").Select(json => (Field?)new Field(key, json, false))),
        ],
        [(1, NotABool.Select(json => (Field?)new Field(key, json, true)))]);

    /// <summary>A field the agent does not read: any value is fine.</summary>
    private static Gen<Field?> UnreadField(string key) => Gen.Frequency(
        (2, Gen.Constant<Field?>(null)),
        (1, AnyValue.Select(json => (Field?)new Field(key, json, false))));

    private static Gen<Field?> ObjectField(bool messy, string key, Gen<Field?>[] members) => Pick(messy,
        [
            (4, Gen.CollectToList(members).Select(fields => (Field?)Object(key, fields))),
            (1, Gen.Constant<Field?>(null)),
            (1, Gen.Constant<Field?>(new Field(key, "null", false))),
        ],
        [(1, NotAnObject.Select(json => (Field?)new Field(key, json, true)))]);

    private static Gen<Field?> Tags(bool messy) => ObjectField(messy, "tags",
    [
        Gen.Frequency(
            (2, Gen.Constant<Field?>(null)),
            (3, Gen.OneOf(AnyValue, Gen.Elements("true", "false", "\"true\"", "\"off\"", "\"no\"", "1", "0", "\"\""))
                .Select(json => (Field?)new Field("noloadbalance", json, false)))),
        UnreadField("nofailover"),
        UnreadField("clonefrom"),
    ]);

    private static Gen<Field?> Xlog(bool messy) => ObjectField(messy, "xlog",
    [
        LongField(messy, "location"), LongField(messy, "received_location"), LongField(messy, "replayed_location"),
        UnreadField("replayed_timestamp"), UnreadField("paused"),
    ]);

    private static Gen<Field?> PatroniInfo(bool messy) => ObjectField(messy, "patroni",
    [
        OptionalString(messy, "version", ["3.0.2", "4.1.4"]), OptionalString(messy, "scope", ["demo", "demo4"]), OptionalString(messy, "name", ["pg1", "pg2"]),
    ]);

    private static Gen<Field?> OptionalString(bool messy, string key, string[] words) => Pick(messy,
        [
            (3, Gen.Elements(words).Select(word => (Field?)new Field(key, Json(word), false))),
            (1, Text.Select(text => (Field?)new Field(key, Json(text), false))),
            (1, Gen.Constant<Field?>(null)),
            (1, Gen.Constant<Field?>(new Field(key, "null", false))),
        ],
        [(1, NotAString.Select(json => (Field?)new Field(key, json, true)))]);

    private static Field Object(string key, IEnumerable<Field?> members)
    {
        var present = members.OfType<Field>().ToList();
        return new Field(key, "{" + string.Join(",", present.Select(f => $"{Json(f.Key)}:{f.Json}")) + "}", present.Any(f => f.Breaks));
    }

    /// <summary>Bodies that are not a JSON object at all.</summary>
    private static readonly Gen<string> NotABody = Gen.Elements(
        "", "null", "[]", "\"running\"", "42", "{", "{\"state\":\"running\",\"role\":\"primary\"", "<html>503 Service Unavailable</html>");

    /// <summary>The bodies of the recorded answers of real Patroni 3.0.2 and 4.1.4 nodes, with their state and role.</summary>
    private static readonly (string Text, string State, string Role)[] Recorded =
    [
        .. Directory.GetFiles(PatroniFixtures.Directory, "*.json")
            .Where(path => !path.EndsWith("-cluster.json", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .Select(path => Encoding.UTF8.GetString(PatroniFixtures.Load(Path.GetFileNameWithoutExtension(path)).Body))
            .Select(text =>
            {
                using var document = JsonDocument.Parse(text);
                return (text, document.RootElement.GetProperty("state").GetString()!, document.RootElement.GetProperty("role").GetString()!);
            }),
    ];

    /// <summary>Answers of every kind; mostly usable ones, a third of them running primaries.</summary>
    public static readonly Gen<PatroniAnswer> Any =
        from status in HttpStatuses
        from lag in Gen.Frequency((1, Gen.Constant<long?>(null)), (3, Gen.Choose(0, 1 << 30).Select(n => (long?)n)))
        from answer in Gen.Frequency(
            (12, Bodies(status, lag)),
            (3, Gen.Elements(Recorded).Select(body => new PatroniAnswer(status, body.Text, status is 200 or 503, body.State, body.Role, lag))),
            (1, NotABody.Select(body => new PatroniAnswer(status, body, false, null, null, lag))))
        select answer;

    /// <summary>Usable answers only, for properties that need a status to answer from.</summary>
    public static readonly Gen<PatroniAnswer> Usable = Any.Where(answer => answer.Decodes);

    /// <summary>Usable 200 answers of a running primary, in both vocabularies, with any other fields.</summary>
    public static readonly Gen<PatroniAnswer> RunningPrimaries = Bodies(200, lag: 0, runningPrimary: true);

    private static Gen<PatroniAnswer> Bodies(int status, long? lag, bool runningPrimary = false) =>
        from messy in runningPrimary ? Gen.Constant(false) : Gen.Frequency((3, Gen.Constant(false)), (1, Gen.Constant(true)))
        from state in Gen.Frequency((4, Gen.Constant<Field?>(new Field("state", Json("running"), false, "running"))), (runningPrimary ? 0 : 1, StringField(messy, "state", States)))
        from role in Gen.Frequency((3, Gen.Elements("primary", "master").Select(word => (Field?)new Field("role", Json(word), false, word))), (runningPrimary ? 0 : 2, StringField(messy, "role", Roles)))
        from optional in Gen.CollectToList(new[]
        {
            LongField(messy, "timeline"), Xlog(messy), BoolField(messy, "pause"), BoolField(messy, "sync_standby"), BoolField(messy, "quorum_standby"),
            Tags(messy), PatroniInfo(messy), UnreadField("cluster_unlocked"), UnreadField("failsafe_mode_is_active"), UnreadField("replication_state"),
            UnreadField("pending_restart"), UnreadField("dcs_last_seen"), UnreadField("server_version"),
            UnreadField("postmaster_start_time"), UnreadField("database_system_identifier"), UnreadField("replication"),
        })
        let fields = optional.Prepend(role).Prepend(state).OfType<Field>().ToArray()
        from order in Gen.Shuffle(fields)
        let body = "{" + string.Join(", ", order.Select(f => $"{Json(f.Key)}: {f.Json}")) + "}"
        let decodes = status is 200 or 503 && state is { Breaks: false } && role is { Breaks: false } && !fields.Any(f => f.Breaks)
        select new PatroniAnswer(status, body, decodes, state?.Text, role?.Text, lag);
}
