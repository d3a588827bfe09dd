using System.CommandLine;
using Embargo.Cli.Infrastructure;
using Embargo.Protocol.Certificates;

namespace Embargo.Cli.Commands;

public static class KeyCommands
{
    public static Command Create()
    {
        var output = new Option<string>("--out") { Description = "writes OUT.key.pem (private, 0600) and OUT.pub.pem", Required = true };
        var type = new Option<string>("--type") { Description = "ed25519 (certificates) or ecdsa-p256 (OpenSSF Model Signing bundles: `certify --oms-key`)", DefaultValueFactory = _ => "ed25519" };
        type.AcceptOnlyFromAmong("ed25519", "ecdsa-p256");
        var command = new Command("keygen", "create a signing key pair: Ed25519 for certificates, ECDSA P-256 for OpenSSF Model Signing") { output, type };
        command.SetAction(async (r, ct) =>
        {
            var stem = r.GetValue(output)!;
            var (privatePath, publicPath) = (stem + ".key.pem", stem + ".pub.pem");
            if (File.Exists(privatePath))
            {
                throw new UserInputException($"{privatePath} already exists; refusing to overwrite a key");
            }
            if (r.GetValue(type) == "ecdsa-p256")
            {
                using var ecdsa = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256);
                await WriteSecretAsync(privatePath, ecdsa.ExportPkcs8PrivateKeyPem() + "\n", ct);
                await File.WriteAllTextAsync(publicPath, OpenModelSigning.PemText(ecdsa), ct);
                Console.Out.WriteLine($"{publicPath}\n{privatePath}\nOMS key hint {OpenModelSigning.KeyHint(ecdsa)}");
                return CliApp.Ok;
            }
            using var key = SigningKey.Generate();
            await WriteSecretAsync(privatePath, key.PrivatePem, ct);
            await File.WriteAllTextAsync(publicPath, key.PublicKey.Pem, ct);
            Console.Out.WriteLine($"{publicPath}\n{privatePath}\nkey id {key.PublicKey.KeyId}");
            return CliApp.Ok;
        });
        return command;
    }

    public static async Task WriteSecretAsync(string path, string text, CancellationToken ct)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }
        await using var stream = new FileStream(path, options);
        await using var writer = new StreamWriter(stream);
        await writer.WriteAsync(text.AsMemory(), ct);
    }
}
