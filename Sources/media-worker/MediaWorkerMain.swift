import MediaWorker

@main
enum MediaWorkerMain {
    static func main() async {
        // Before any thread starts: the setting is the process's, and its children's.
        TransparentHugePages.apply()
        await MediaWorkerCommand.main()
    }
}
