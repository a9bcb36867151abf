@testable import MediaWorker
import Testing

@Suite("Movie id from object metadata")
struct MovieIDTests {
    @Test("the object's metadata wins (any case), the job's id is the fallback, both validated")
    func resolve() throws {
        #expect(try MovieID.resolve(objectMetadata: ["movie-id": "movie-101"], jobMovieID: "movie-9") == "movie-101")
        #expect(try MovieID.resolve(objectMetadata: ["Movie-ID": "movie-101"], jobMovieID: nil) == "movie-101")
        #expect(try MovieID.resolve(objectMetadata: ["other": "x"], jobMovieID: "movie-9") == "movie-9")
        #expect(try MovieID.resolve(objectMetadata: [:], jobMovieID: nil) == nil)
        for bad in ["", "movie 101", "movie\u{0}101", "m\n", String(repeating: "a", count: 129), "../etc"] {
            #expect(throws: MovieID.Invalid.self) { try MovieID.resolve(objectMetadata: ["movie-id": bad], jobMovieID: "ok") }
            #expect(throws: MovieID.Invalid.self) { try MovieID.resolve(objectMetadata: [:], jobMovieID: bad) }
        }
    }
}
