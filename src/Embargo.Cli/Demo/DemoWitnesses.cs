using Embargo.Cli.Commands;
using Embargo.Ledger;
using Embargo.Server.Witness;
using Microsoft.AspNetCore.Builder;

namespace Embargo.Cli.Demo;

/// <summary>
/// The demo's two witnesses (C2SP tlog-witness), run in this process on 127.0.0.1: the regulator's and Mailguard's
/// (an affected party's). Each trusts the demo ledger's key, keeps its state under witnesses/NAME/, and its verifier
/// key is written as witness-NAME.vkey beside checkpoint.txt.
/// </summary>
public sealed class DemoWitnesses : IAsyncDisposable
{
    public const int Quorum = 2;
    private static readonly (string File, string Name)[] Parties =
        [("regulator", "office-for-ai-safety.example/witness"), ("mailguard", "mailguard.example/witness")];

    private readonly List<WebApplication> _apps = [];

    private DemoWitnesses()
    {
    }

    /// <summary>(add-checkpoint prefix URL, verifier key) of each witness, for the server's configuration.</summary>
    public List<(string Url, string Key)> Endpoints { get; } = [];

    /// <summary>The witness-*.vkey files written to the output directory.</summary>
    public List<string> KeyFiles { get; } = [];

    /// <summary>
    /// Creates the ledger key the server will sign with (DATA/ledger.key, as the server would) so the witnesses can be
    /// told the log's verifier key first, then starts both witnesses.
    /// </summary>
    public static async Task<DemoWitnesses> StartAsync(string outDir, string serverDataDirectory, string origin, TimeProvider time, CancellationToken ct)
    {
        Directory.CreateDirectory(serverDataDirectory);
        var ledgerKeyPath = Path.Combine(serverDataDirectory, "ledger.key");
        if (!File.Exists(ledgerKeyPath))
        {
            using var created = NoteSigner.Generate(origin);
            await KeyCommands.WriteSecretAsync(ledgerKeyPath, created.SecretKey + "\n", ct);
        }
        var ledgerSigner = NoteSigner.FromSecretKey((await File.ReadAllTextAsync(ledgerKeyPath, ct)).Trim());
        string ledgerVkey;
        using (var signer = ledgerSigner.IsOk ? ledgerSigner.Value : throw new InvalidOperationException($"{ledgerKeyPath}: {ledgerSigner.Error.Message}"))
        {
            ledgerVkey = signer.VerifierKey;
        }
        var witnesses = new DemoWitnesses();
        try
        {
            foreach (var (file, name) in Parties)
            {
                var dir = Path.Combine(outDir, "witnesses", file);
                Directory.CreateDirectory(dir);
                var (secret, vkey) = WitnessHost.GenerateKey(name);
                await KeyCommands.WriteSecretAsync(Path.Combine(dir, "witness.key"), secret + "\n", ct);
                var (app, url, _) = await WitnessHost.StartAsync(new WitnessSettings
                {
                    SecretKey = secret, LogKeys = [ledgerVkey], DataDirectory = dir, Time = time,
                }, ct);
                witnesses._apps.Add(app);
                var vkeyFile = Path.Combine(outDir, $"witness-{file}.vkey");
                await File.WriteAllTextAsync(vkeyFile, vkey + "\n", ct);
                witnesses.Endpoints.Add((url.AbsoluteUri, vkey));
                witnesses.KeyFiles.Add(vkeyFile);
            }
            return witnesses;
        }
        catch
        {
            await witnesses.DisposeAsync();
            throw;
        }
    }

    public string Describe() =>
        "witnesses (quorum " + Quorum + "): " + string.Join(", ", Endpoints.Select(e => $"{e.Key.Split('+')[0]} at {e.Url}add-checkpoint"));

    /// <summary>The verification's witness check: both witnesses cosigned the exported checkpoint.</summary>
    public Embargo.Protocol.Certificates.VerificationCheck Check(string checkpointPath) =>
        VerifyCommand.WitnessCheck(File.ReadAllText(checkpointPath), WitnessCommands.ReadWitnessKeys(KeyFiles), Quorum);

    public async ValueTask DisposeAsync()
    {
        foreach (var app in _apps)
        {
            await app.StopAsync(CancellationToken.None);
            await app.DisposeAsync();
        }
        _apps.Clear();
    }
}
