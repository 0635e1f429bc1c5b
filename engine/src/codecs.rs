//! RFC 6381 codec strings (`avc1.640028`, `mp4a.40.2`) for HLS CODECS and DASH @codecs.

/// The `avc1.PPCCLL` string from H.264 extradata, either Annex B (what libx264 writes with
/// a global header) or an avcC record. `None` when no SPS is found.
pub fn avc1_from_extradata(extradata: &[u8]) -> Option<String> {
    let sps = if extradata.first() == Some(&1) && extradata.len() >= 4 {
        // avcC: version, profile, compatibility, level.
        [extradata[1], extradata[2], extradata[3]]
    } else {
        let mut i = 0;
        let mut found = None;
        while i + 3 < extradata.len() {
            if extradata[i] == 0 && extradata[i + 1] == 0 && extradata[i + 2] == 1 {
                let nal = i + 3;
                if extradata[nal] & 0x1f == 7 && nal + 3 < extradata.len() {
                    found = Some([extradata[nal + 1], extradata[nal + 2], extradata[nal + 3]]);
                    break;
                }
                i = nal;
            } else {
                i += 1;
            }
        }
        found?
    };
    Some(format!("avc1.{:02X}{:02X}{:02X}", sps[0], sps[1], sps[2]))
}

/// The codec string of AAC-LC.
pub const AAC_LC: &str = "mp4a.40.2";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_annex_b_and_avcc() {
        let annexb = [
            0, 0, 0, 1, 0x67, 0x64, 0x00, 0x28, 0xac, 0, 0, 1, 0x68, 0xee,
        ];
        assert_eq!(avc1_from_extradata(&annexb).as_deref(), Some("avc1.640028"));
        let avcc = [1, 0x4d, 0x40, 0x1f, 0xff];
        assert_eq!(avc1_from_extradata(&avcc).as_deref(), Some("avc1.4D401F"));
        assert_eq!(avc1_from_extradata(&[0, 0, 1, 0x68]), None);
    }
}
