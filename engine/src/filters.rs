//! libavfilter graphs with one source ("in") and one sink ("out"), for the few places the
//! engine needs FFmpeg's filters (deinterlacing, rotation, resampling), and audio graphs
//! with several sources ("in0", "in1", ...) for tracks merged into one.

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

/// Builds and validates an audio graph of `abuffer` sources "in0", "in1", ... (one per
/// entry of `args`) and an `abuffersink` "out", joined by `spec`, which names them.
pub(crate) fn merge_graph(args: &[String], spec: &str) -> Result<filter::Graph, ff::Error> {
    let mut graph = filter::Graph::new();
    let src = filter::find("abuffer").ok_or(ff::Error::FilterNotFound)?;
    let sink = filter::find("abuffersink").ok_or(ff::Error::FilterNotFound)?;
    for (i, a) in args.iter().enumerate() {
        graph.add(&src, &format!("in{i}"), a)?;
    }
    graph.add(&sink, "out", "")?;
    let mut parser = graph.output("in0", 0)?;
    for i in 1..args.len() {
        parser = parser.output(&format!("in{i}"), 0)?;
    }
    parser.input("out", 0)?.parse(&format!("{spec}[out]"))?;
    graph.validate()?;
    Ok(graph)
}
