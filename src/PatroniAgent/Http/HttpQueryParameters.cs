namespace PatroniAgent.Http;

/// <summary>
/// The parameters of a query, <c>name=value</c> separated by <c>&amp;</c>, in order and as sent (not
/// percent-decoded). A parameter without <c>=</c> has an empty value. Use with <c>foreach</c>; allocates nothing.
/// </summary>
public ref struct HttpQueryParameters
{
    private ReadOnlySpan<byte> _rest;

    public HttpQueryParameters(ReadOnlySpan<byte> query)
    {
        _rest = query;
    }

    /// <summary>The parameter read by the last <see cref="MoveNext"/>.</summary>
    public HttpQueryParameter Current { get; private set; }

    public readonly HttpQueryParameters GetEnumerator() => this;

    /// <summary>Reads the next parameter; false at the end of the query.</summary>
    public bool MoveNext()
    {
        if (_rest.IsEmpty)
        {
            return false;
        }
        int amp = _rest.IndexOf((byte)'&');
        var parameter = amp < 0 ? _rest : _rest[..amp];
        _rest = amp < 0 ? default : _rest[(amp + 1)..];
        int eq = parameter.IndexOf((byte)'=');
        Current = eq < 0 ? new HttpQueryParameter(parameter, default) : new HttpQueryParameter(parameter[..eq], parameter[(eq + 1)..]);
        return true;
    }
}

/// <summary>One query parameter: its name and its value, as sent.</summary>
public readonly ref struct HttpQueryParameter
{
    public HttpQueryParameter(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value)
    {
        Name = name;
        Value = value;
    }

    /// <summary>The name, up to the first <c>=</c>.</summary>
    public ReadOnlySpan<byte> Name { get; }

    /// <summary>The value, after the first <c>=</c>.</summary>
    public ReadOnlySpan<byte> Value { get; }
}
