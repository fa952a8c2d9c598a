using AuthServer.Config;

namespace AuthServer.Features.Web3;

/// <summary>Sign in with a wallet (GoTrue `conf.SolanaConfiguration` / `EthereumConfiguration`).</summary>
internal sealed class Web3Options
{
    /// <summary>`GOTRUE_EXTERNAL_WEB3_SOLANA_ENABLED`: Sign in with Solana (SIWS).</summary>
    public bool SolanaEnabled { get; init; }

    /// <summary>`GOTRUE_EXTERNAL_WEB3_SOLANA_MAXIMUM_VALIDITY_DURATION` (default 10m): how far from its
    /// `Issued At` a Solana message is still accepted, in either direction.</summary>
    public TimeSpan SolanaMaximumValidity { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>`GOTRUE_EXTERNAL_WEB3_ETHEREUM_ENABLED`: Sign in with Ethereum (EIP-4361).</summary>
    public bool EthereumEnabled { get; init; }

    /// <summary>`GOTRUE_EXTERNAL_WEB3_ETHEREUM_MAXIMUM_VALIDITY_DURATION` (default 10m).</summary>
    public TimeSpan EthereumMaximumValidity { get; init; } = TimeSpan.FromMinutes(10);

    public bool AnyEnabled => SolanaEnabled || EthereumEnabled;

    public static Web3Options Load(EnvReader env) => new()
    {
        SolanaEnabled = env.Bool("GOTRUE_EXTERNAL_WEB3_SOLANA_ENABLED", false),
        SolanaMaximumValidity = env.Duration("GOTRUE_EXTERNAL_WEB3_SOLANA_MAXIMUM_VALIDITY_DURATION") ?? TimeSpan.FromMinutes(10),
        EthereumEnabled = env.Bool("GOTRUE_EXTERNAL_WEB3_ETHEREUM_ENABLED", false),
        EthereumMaximumValidity = env.Duration("GOTRUE_EXTERNAL_WEB3_ETHEREUM_MAXIMUM_VALIDITY_DURATION") ?? TimeSpan.FromMinutes(10),
    };
}
