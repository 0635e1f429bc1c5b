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

/// The name of source `i` of a graph of `n`: "in" for one, "in0", "in1", ... for several.
pub(crate) fn source_name(i: usize, n: usize) -> String {
    if n == 1 {
        "in".into()
    } else {
        format!("in{i}")
    }
}

/// Builds and validates an audio graph of `abuffer` sources "in0", "in1", ... (one per
/// entry of `args`), merged channel after channel by FFmpeg's amerge (overlapping
/// layouts give every channel of the first, then of the second), then `chain`, into an
/// `abuffersink` "out".
pub(crate) fn merge_graph(args: &[String], chain: &str) -> Result<filter::Graph, ff::Error> {
    let mut graph = filter::Graph::new();
    let src = filter::find("abuffer").ok_or(ff::Error::FilterNotFound)?;
    let sink = filter::find("abuffersink").ok_or(ff::Error::FilterNotFound)?;
    let names: Vec<String> = (0..args.len())
        .map(|i| source_name(i, args.len()))
        .collect();
    for (name, a) in names.iter().zip(args) {
        graph.add(&src, name, a)?;
    }
    graph.add(&sink, "out", "")?;
    let mut parser = graph.input("out", 0)?;
    for name in &names {
        parser = parser.output(name, 0)?;
    }
    let labels: String = names.iter().map(|n| format!("[{n}]")).collect();
    parser.parse(&format!(
        "{labels}amerge=inputs={},{chain}[out]",
        args.len()
    ))?;
    graph.validate()?;
    Ok(graph)
}
