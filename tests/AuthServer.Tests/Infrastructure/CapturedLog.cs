using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace AuthServer.Tests.Infrastructure;

/// <summary>Keeps the server's warnings and errors in memory so a failing assertion can show them.</summary>
sealed class CapturedLog : ILoggerProvider
{
    const int MaxEntries = 200;
    readonly ConcurrentQueue<string> entries = new();

    public string Text => entries.IsEmpty ? "" : "Server log:\n" + string.Join('\n', entries);

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    void Add(string entry)
    {
        entries.Enqueue(entry);
        while (entries.Count > MaxEntries && entries.TryDequeue(out _))
        {
        }
    }

    sealed class Logger(CapturedLog log, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception,
            Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
                log.Add($"{logLevel} {category}: {formatter(state, exception)} {exception}");
        }
    }
}
