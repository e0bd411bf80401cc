using System.CommandLine;
using System.Globalization;
using Recommender.Pipeline.Lifecycle;
using Recommender.Pipeline.Serving;

namespace Recommender.Pipeline.Cli;

/// <summary><c>export-log</c>: the impression and feedback log as training data.</summary>
internal static class ExportLogCommand
{
    public static Command Create()
    {
        var log = new Option<FileInfo>("--log") { Description = "The service's impression log (SQLite)", Required = true };
        var model = new Option<string>("--model") { Description = "The registry or bundle that served (its schema names the columns and labels)", Required = true };
        var since = new Option<string>("--since") { Description = "First impression time (ISO 8601, UTC if no offset)", Required = true };
        var until = new Option<string?>("--until") { Description = "End of the range, exclusive (default: now)" };
        var window = new Option<double>("--window-hours") { Description = "Attribution window: feedback counts when it arrives within this many hours of the impression", DefaultValueFactory = _ => 24 }.Positive();
        var position = new Option<string?>("--position-column") { Description = "Write this feature as the position each item was shown at (the service scores at a reference position)" };
        var output = new Option<DirectoryInfo>("--out") { Description = "Folder to write train.csv and schema.json into (train --data reads it)", Required = true };
        var command = new Command("export-log", "Write the impressions of a time range with their feedback as labels: training data for the next model")
        {
            log, model, since, until, window, output, position,
        };
        command.SetAction(result =>
        {
            static DateTimeOffset Time(string text, string name) => DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t)
                ? t : throw new FormatException($"{name}: '{text}' is not an ISO 8601 time");
            var schema = ModelBundle.Open(result.GetValue(model)!, verifyHashes: false).Metadata.Schema;
            using var outputLock = WriterLock.Acquire(result.GetValue(output)!.FullName, wait: false);
            var s = LogExport.Run(result.GetValue(log)!.FullName, schema, Time(result.GetValue(since)!, "--since"),
                result.GetValue(until) is { } u ? Time(u, "--until") : DateTimeOffset.UtcNow, TimeSpan.FromHours(result.GetValue(window)), result.GetValue(output)!.FullName,
                result.GetValue(position));
            Console.WriteLine($"{s.Impressions:N0} impressions ({s.Clicks:N0} clicked, {s.Conversions:N0} converted, {s.Ratings:N0} rated) to {Path.Combine(s.Directory, "train.csv")}");
            return 0;
        });
        return command;
    }
}
