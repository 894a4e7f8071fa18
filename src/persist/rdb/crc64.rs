//! CRC-64 as Redis computes it for RDB files and DUMP payloads (`crc64.c`).
//!
//! Jones polynomial `0xad93d23594c935a9`, reflected input and output, register starting at 0,
//! no final XOR (the `crc` crate's `CRC_64_REDIS`). The check value is
//! `crc64(0, "123456789") == 0xe9c6d914c4b8d9ca`. Every byte of a saved or loaded RDB file
//! goes through it, so it uses sixteen tables and reads 16 bytes a step, as Redis's
//! `crcspeed` does, instead of one byte a step.

use crc::{Crc, Table, CRC_64_REDIS};

const REDIS_CRC64: Crc<u64, Table<16>> = Crc::<u64, Table<16>>::new(&CRC_64_REDIS);

/// Continues a CRC-64 over `data`, starting from `crc` (0 for a fresh checksum).
pub fn crc64(crc: u64, data: &[u8]) -> u64 {
    // The crate reflects an initial value given in the algorithm's unreflected orientation;
    // `crc` is a finished (reflected) checksum, so it goes in reversed.
    let mut digest = REDIS_CRC64.digest_with_initial(crc.reverse_bits());
    digest.update(data);
    digest.finalize()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plain one-byte-a-step definition, as a reference.
    fn crc64_bytewise(mut crc: u64, data: &[u8]) -> u64 {
        const POLY_REFLECTED: u64 = 0x95ac_9329_ac4b_c9b5;
        for &byte in data {
            crc ^= u64::from(byte);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ POLY_REFLECTED
                } else {
                    crc >> 1
                };
            }
        }
        crc
    }

    #[test]
    fn check_value_matches_redis() {
        assert_eq!(crc64(0, b"123456789"), 0xe9c6_d914_c4b8_d9ca);
        assert_eq!(crc64_bytewise(0, b"123456789"), 0xe9c6_d914_c4b8_d9ca);
    }

    #[test]
    fn incremental_equals_one_shot_and_the_bytewise_definition() {
        let data: Vec<u8> = (0..5000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let whole = crc64(0, &data);
        assert_eq!(whole, crc64_bytewise(0, &data));
        for split in [0, 1, 7, 15, 16, 17, 1000, 4999, 5000] {
            let (a, b) = data.split_at(split);
            assert_eq!(crc64(crc64(0, a), b), whole, "split at {split}");
        }
        assert_eq!(crc64(0x1234, b""), 0x1234);
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
