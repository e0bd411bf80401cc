using System.CommandLine;
using Recommender.Pipeline.Scoring;
using Recommender.Trainers.Runtime;

namespace Recommender.Pipeline.Cli;

/// <summary><c>recommend</c>: two-stage top-K recommendations.</summary>
internal static class RecommendCommand
{
    public static Command Create()
    {
        var model = new Option<DirectoryInfo>("--model") { Description = "Bundle folder written by train", Required = true };
        var usersFile = new Option<FileInfo?>("--users") { Description = "File with one user id per line (a header line 'user' is skipped)" };
        var allUsers = new Option<bool>("--all-users") { Description = "Recommend for every user the model knows" };
        var k = new Option<int>("--k") { Description = "Recommendations per user", DefaultValueFactory = _ => 10 }.AtLeast(1);
        var candidates = new Option<int>("--candidates") { Description = "Candidates retrieved per user by matrix factorization", DefaultValueFactory = _ => 100 }.AtLeast(1);
        var includeSeen = new Option<bool>("--include-seen") { Description = "Keep items the user already saw in training" };
        var rank = new Option<string?>("--rank") { Description = "Ranking formula (see score --help); default pctr * pcvr for the default chain, else the entire-space prediction at the end of the first chain" };
        var output = new Option<FileInfo>("--output") { Description = "Output CSV: UserId, Rank, ItemId, the model's predictions (PCtr, PCvr, PCtcvr, PredictedRating for the default chain), RankScore, Propensity", Required = true };
        var device = new Option<ExecutionDevice>("--device") { Description = "Auto, Cpu or Cuda", DefaultValueFactory = _ => ExecutionDevice.Auto };
        var policy = new Option<string>("--policy") { Description = "greedy, epsilon:E (a random remaining item with probability E at each slot) or softmax:T (temperature in rank-score units)", DefaultValueFactory = _ => "greedy" };
        var policySeed = new Option<int>("--policy-seed") { Description = "Seed of the exploration policy", DefaultValueFactory = _ => 1 };
        var skipHashes = new Option<bool>("--skip-hash-check") { Description = "Check the bundle's file sizes against its manifest but not their SHA-256" };
        var command = new Command("recommend", "Top-K recommendations: matrix-factorization retrieval of candidates, ranked by the multi-task model with a ranking formula")
        {
            model, usersFile, allUsers, k, candidates, includeSeen, rank, output, device, skipHashes, policy, policySeed,
        };
        command.SetAction(result =>
        {
            List<string>? users = null;
            if (result.GetValue(usersFile) is { } uf && uf.FullName == result.GetValue(output)!.FullName)
                throw new IOException($"{uf.FullName}: the output is the users file; choose another output file");
            if (Directory.Exists(result.GetValue(output)!.FullName)) throw new IOException($"{result.GetValue(output)!.FullName}: a folder; --output is the file to write");
            if (result.GetValue(usersFile) is { } f) users = File.ReadLines(f.FullName).Select(l => l.Trim()).Where(l => l.Length > 0 && l != "user").ToList();
            else if (!result.GetValue(allUsers)) throw new Data.SchemaException("give --users FILE or --all-users");
            var s = RecommendJob.Run(result.GetValue(model)!.FullName, users, result.GetValue(k), result.GetValue(candidates), !result.GetValue(includeSeen),
                result.GetValue(rank)!, result.GetValue(output)!.FullName, result.GetValue(device), verifyHashes: !result.GetValue(skipHashes),
                policy: ExplorationPolicy.Parse(result.GetValue(policy)!), policySeed: result.GetValue(policySeed));
            Console.WriteLine($"{s.Users:N0} users ({s.UnknownUsers:N0} unknown, skipped), {s.Rows:N0} recommendations to {s.Output} in {s.Seconds:F1} s");
            return 0;
        });
        return command;
    }
}
