namespace Recommender.Pipeline.Serving;

/// <summary>A request the service refuses: its HTTP status, the offending field (a JSON path) and why; answered as RFC 7807 problem details.</summary>
public sealed class RequestException(int status, string field, string message) : Exception(message)
{
    /// <summary>HTTP status code.</summary>
    public int Status { get; } = status;
    /// <summary>The offending field, e.g. <c>rows[3].item_price</c>.</summary>
    public string Field { get; } = field;
}
