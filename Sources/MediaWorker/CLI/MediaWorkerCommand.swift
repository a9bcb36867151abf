import ArgumentParser

/// `media-worker`: the daemon and its operator commands.
public struct MediaWorkerCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "media-worker",
        abstract: "Media-processing worker: transcode, HLS, keyframes, thumbnails, compose.",
        version: MediaWorkerVersion.current,
        subcommands: [
            RunCommand.self, ProbeCommand.self, EnqueueCommand.self, StatusCommand.self, CancelCommand.self,
            DeadCommand.self, WorkersCommand.self, EventsCommand.self, KeyframesCommand.self, ThumbnailsCommand.self,
            HLSCommand.self, MP4Command.self, StorageCommand.self, ProcessCommand.self, DashboardCommand.self,
        ],
        defaultSubcommand: nil)

    public init() {}
}
