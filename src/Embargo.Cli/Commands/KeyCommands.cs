using System.CommandLine;
using Embargo.Cli.Infrastructure;
using Embargo.Protocol.Certificates;

namespace Embargo.Cli.Commands;

public static class KeyCommands
{
    public static Command Create()
    {
        var output = new Option<string>("--out") { Description = "writes OUT.key.pem (private, 0600) and OUT.pub.pem", Required = true };
        var command = new Command("keygen", "create an Ed25519 signing key pair (certifiers sign certificates with it)") { output };
        command.SetAction(async (r, ct) =>
        {
            var stem = r.GetValue(output)!;
            var (privatePath, publicPath) = (stem + ".key.pem", stem + ".pub.pem");
            if (File.Exists(privatePath))
            {
                throw new UserInputException($"{privatePath} already exists; refusing to overwrite a key");
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
