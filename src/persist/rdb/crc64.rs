//! CRC-64 as Redis computes it for RDB files and DUMP payloads (`crc64.c`).
//!
//! Jones polynomial `0xad93d23594c935a9`, reflected input and output, register starting at 0,
//! no final XOR. The check value is `crc64(0, "123456789") == 0xe9c6d914c4b8d9ca`. This is a
//! plain table-driven implementation (one byte per step); Redis uses a faster slicing variant
//! that gives the same result.

/// The Jones polynomial, bit-reversed for the reflected (LSB-first) algorithm.
const POLY_REFLECTED: u64 = 0x95ac_9329_ac4b_c9b5;

const TABLE: [u64; 256] = build_table();

const fn build_table() -> [u64; 256] {
    let mut table = [0u64; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u64;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ POLY_REFLECTED
            } else {
                crc >> 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
}

/// Continues a CRC-64 over `data`, starting from `crc` (0 for a fresh checksum).
pub fn crc64(mut crc: u64, data: &[u8]) -> u64 {
    for &byte in data {
        crc = TABLE[((crc ^ byte as u64) & 0xff) as usize] ^ (crc >> 8);
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_value_matches_redis() {
        assert_eq!(crc64(0, b"123456789"), 0xe9c6_d914_c4b8_d9ca);
    }

    #[test]
    fn incremental_equals_one_shot() {
        let data = b"The quick brown fox jumps over the lazy dog";
        let split = crc64(crc64(0, &data[..10]), &data[10..]);
        assert_eq!(split, crc64(0, data));
    }

    #[test]
    fn dump_payload_of_v12_has_the_captured_checksum() {
        // §1.4 of the interop notes: DUMP of the string "v12".
        let body = [0x00, 0x03, b'v', b'1', b'2', 0x0a, 0x00];
        let crc = crc64(0, &body);
        assert_eq!(
            crc.to_le_bytes(),
            [0xbf, 0x0b, 0xe0, 0xff, 0x5c, 0xea, 0x65, 0x04]
        );
    }
}
