namespace Embargo.Weights.Tests;

public class KeyFilesTests
{
    [Fact]
    public void KeygenWritesArmoredKeysWithAPrivateModeAndRefusesToOverwrite()
    {
        using var dir = new TempDir();
        var name = dir.Sub("grantee");

        var id = KeyFiles.Generate(name);

        Assert.True(id.IsOk);
        Assert.StartsWith("x25519:", id.Value, StringComparison.Ordinal);
        Assert.Equal(7 + 32, id.Value.Length);
        Assert.StartsWith("-----BEGIN EMBARGO X25519 PUBLIC KEY-----\n", File.ReadAllText(name + ".pub"), StringComparison.Ordinal);
        Assert.StartsWith("-----BEGIN EMBARGO X25519 PRIVATE KEY-----\n", File.ReadAllText(name + ".key"), StringComparison.Ordinal);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(name + ".key"));
        }
        Assert.Equal(id.Value, KeyFiles.KeyId(KeyFiles.ReadPublic(name + ".pub").Value));
        Assert.Equal(WeightsErrorKind.OutputExists, KeyFiles.Generate(name).Error!.Kind);
    }

    [Theory]
    [InlineData("")]
    [InlineData("-----BEGIN EMBARGO X25519 PUBLIC KEY-----\nAAAA\n-----END EMBARGO X25519 PUBLIC KEY-----\n")]
    [InlineData("-----BEGIN EMBARGO X25519 PRIVATE KEY-----\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n-----END EMBARGO X25519 PRIVATE KEY-----\n")]
    public void MalformedPublicKeyFilesAreRefused(string text)
    {
        using var dir = new TempDir();
        var path = dir.File("k.pub", System.Text.Encoding.UTF8.GetBytes(text));

        var result = KeyFiles.ReadPublic(path);

        Assert.Equal(WeightsErrorKind.InvalidKeyFile, result.Error!.Kind);
        Assert.Equal(path, result.Error.File);
    }
}
