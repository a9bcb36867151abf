import MediaWorker

@main
enum MediaWorkerMain {
    static func main() async {
        await MediaWorkerCommand.main()
    }
}
