//! libavfilter graphs with one source ("in") and one sink ("out"), for the few places the
//! engine needs FFmpeg's filters (deinterlacing, rotation, resampling).

use ff::filter;
use ffmpeg_next as ff;

/// Builds and validates `source(args) -> chain -> sink`. `audio` picks the
/// `abuffer`/`abuffersink` pair instead of `buffer`/`buffersink`.
pub(crate) fn graph(audio: bool, args: &str, chain: &str) -> Result<filter::Graph, ff::Error> {
    let (src, sink) = if audio {
        ("abuffer", "abuffersink")
    } else {
        ("buffer", "buffersink")
    };
    let mut graph = filter::Graph::new();
    let src = filter::find(src).ok_or(ff::Error::FilterNotFound)?;
    let sink = filter::find(sink).ok_or(ff::Error::FilterNotFound)?;
    graph.add(&src, "in", args)?;
    graph.add(&sink, "out", "")?;
    graph.output("in", 0)?.input("out", 0)?.parse(chain)?;
    graph.validate()?;
    Ok(graph)
}
