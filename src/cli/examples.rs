//! The examples at the end of `--help`, one set per command.

pub const TOP: &str = "\
Examples:
  boa-det data.npy                    compress to data.npy.boa (data.npy kept)
  boa-det -d data.npy.boa             decompress to data.npy
  boa-det -t *.boa                    verify archives (exit 0 only if all are good)
  boa-det -l -v data.npy.boa          list sizes, codecs and every chunk
  boa-det -r --rm runs/               compress every file under runs/, removing each input once verified
  tar c dir | boa-det -c > dir.tar.boa
  boa-det compress --help             the options of one command

Exit codes: 0 ok, 2 usage, 3 I/O, 4 model, 5 corrupt archive, 6 over a --max-* limit (docs/CLI.md).";

pub const COMPRESS: &str = "\
Examples:
  boa-det compress events.hepmc                 -> events.hepmc.boa
  boa-det compress -1 events.hepmc              level 1: the context mixer alone, several times faster
  boa-det compress --best events.hepmc          the smallest archive (level 7 today), slower
  boa-det compress -o out.boa -T 4 table.bin    four threads (the bytes do not depend on it)
  boa-det compress --record-size 16 rows.bin    a table of 16-byte records
  boa-det compress --format-version 5 x.lhe     for readers of format version 5
  boa-det compress --model my.safetensors --embed-model x.bin
  cat x.bin | boa-det compress -c > x.bin.boa";

pub const DECOMPRESS: &str = "\
Examples:
  boa-det decompress events.hepmc.boa           -> events.hepmc
  boa-det decompress -c x.boa | head            to standard output
  boa-det decompress --range 1000..2000 -c x.boa
                                                only those bytes (only their chunks are decoded)
  boa-det decompress --max-output 1G --max-model-steps 256M untrusted.boa
                                                refuse, before any work, archives that claim more";

pub const VERIFY: &str = "\
Examples:
  boa-det verify archive.boa                    decode every chunk, check every checksum
  boa-det verify -r /store                      every .boa file under /store
  boa-det verify -v --max-output 4G x.boa       with a report; refuse claims over 4 GiB";

pub const LIST: &str = "\
Examples:
  boa-det list x.boa                            sizes, ratio, codecs, model, versions
  boa-det list -v x.boa                         also every chunk";

pub const BENCH: &str = "\
Examples:
  boa-det bench data.npy                        boa-det against zstd, xz, brotli, bzip2 and lz4
  boa-det bench --codecs boa-det,xz-9,zstd-19 a b
                                                chosen codecs, in this order
  boa-det bench --levels 1,4,5 --codecs xz-9,boa-det-L1,boa-det,boa-det-L5 a
                                                levels side by side";

pub const ANALYZE: &str = "\
Examples:
  boa-det analyze events.hepmc                  bits per line type and field, levels 4 and 6 and xz
  boa-det analyze jets.bin --columns jets.columns.tsv --plot jets.svg
                                                a table's columns by name, and a chart
  boa-det analyze data.npy --levels 1,4 --json  columns from the .npy header, as JSON
  boa-det analyze big.bin --limit 8M --record 96
                                                the first 8 MiB, records of 96 bytes";

pub const MAN: &str = "\
Examples:
  boa-det man | man -l -                        read the manual page
  boa-det man -o /usr/local/share/man/man1      boa-det.1 and one page per command";

pub const COMPLETIONS: &str = "\
Examples:
  boa-det completions bash > /etc/bash_completion.d/boa-det
  boa-det completions zsh > \"${fpath[1]}/_boa-det\"
  boa-det completions fish > ~/.config/fish/completions/boa-det.fish";
