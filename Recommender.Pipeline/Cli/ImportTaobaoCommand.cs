using System.CommandLine;
using Recommender.Pipeline.Data;
using Recommender.Pipeline.Lifecycle;

namespace Recommender.Pipeline.Cli;

/// <summary><c>import-taobao</c>: Taobao's UserBehavior log as impressions with histories (see <see cref="TaobaoUserBehavior"/>).</summary>
internal static class ImportTaobaoCommand
{
    public static Command Create()
    {
        var input = new Option<FileInfo>("--input") { Description = "UserBehavior.csv (user,item,category,behavior,timestamp; no header)", Required = true };
        var output = new Option<DirectoryInfo>("--out") { Description = "Output folder, laid out as generate writes it", Required = true };
        var history = new Option<int>("--history") { Description = "Viewed items (and their categories) kept before each impression", DefaultValueFactory = _ => 20 }.InRange(1, 1001);
        var command = new Command("import-taobao",
            "Turn Taobao's UserBehavior log into impressions with histories: each page view an impression, clicked when the user later carts, favours or buys the item, converted when they buy it; split by time")
        {
            input, output, history,
        };
        command.SetAction(result =>
        {
            string dir = result.GetValue(output)!.FullName;
            if (File.Exists(dir)) throw new IOException($"{dir}: a file; --out is the folder to write the data set into");
            using var outputLock = WriterLock.Acquire(dir, wait: false);
            var r = TaobaoUserBehavior.Convert(result.GetValue(input)!.FullName, dir, result.GetValue(history));
            Console.WriteLine($"wrote {r.Directory}: {r.Impressions:N0} impressions (page views) of {r.Events:N0} events; train {r.TrainRows:N0}, valid {r.ValidRows:N0}, test {r.TestRows:N0}");
            Console.WriteLine($"clicks {r.Clicks:N0} ({r.Clicks / (double)Math.Max(1, r.Impressions):P2}), conversions {r.Conversions:N0}; {r.EngagementsWithoutView:N0} engagements without an earlier view of the item left out");
            return 0;
        });
        return command;
    }
}
