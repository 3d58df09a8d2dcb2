//! Speaking the audio guidance ([`crate::guide`]): Open JTalk for Japanese, eSpeak NG
//! for English, Mandarin, Korean, Vietnamese and Nepali, each run as a child process that writes its WAV to a pipe, played by
//! ALSA's `aplay` from a pipe. Nothing is written to disk: no audio of anything said to
//! an applicant exists outside memory and the pipes. A new prompt cuts the one playing
//! (as a screen reader does), so a quick key press is never answered late.
//!
//! Debian packages: `open-jtalk`, `open-jtalk-mecab-naist-jdic`,
//! `hts-voice-nitech-jp-atr503-m001` (in `contrib`), `espeak-ng`, `alsa-utils`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;

use crate::i18n::Lang;
use crate::kiosk::guide::{Say, VOLUME_MAX};

/// Where Open JTalk's dictionary is looked for.
pub const JTALK_DIC: &[&str] = &["/var/lib/mecab/dic/open-jtalk/naist-jdic"];
/// Where Open JTalk's voice is looked for.
pub const JTALK_VOICE: &[&str] =
    &["/usr/share/hts-voice/nitech-jp-atr503-m001/nitech_jp_atr503_m001.htsvoice"];

/// Why the guidance cannot speak.
#[derive(Debug)]
pub enum SpeechError {
    /// A program or data file is not installed.
    Missing {
        what: &'static str,
        package: &'static str,
    },
    /// A synthesiser or the player failed.
    Failed { what: &'static str, detail: String },
    /// The configured device would not be a sound device (ALSA's `file` plugin writes
    /// what it plays to disk).
    Device(String),
}

impl std::fmt::Display for SpeechError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SpeechError::Missing { what, package } => {
                write!(f, "{what} is not installed (Debian package {package})")
            }
            SpeechError::Failed { what, detail } => write!(f, "{what} failed: {detail}"),
            SpeechError::Device(d) => write!(
                f,
                "{DEVICE_ENV}={d:?} is not a sound device: the guidance never plays into a file"
            ),
        }
    }
}

impl std::error::Error for SpeechError {}

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(name))
            .find(|f| f.is_file())
    })
}

fn first(candidates: &[&str]) -> Option<PathBuf> {
    candidates.iter().map(PathBuf::from).find(|p| p.exists())
}

fn need(
    found: Option<PathBuf>,
    what: &'static str,
    package: &'static str,
) -> Result<PathBuf, SpeechError> {
    found.ok_or(SpeechError::Missing { what, package })
}

/// Runs `cmd` with `input` on its stdin; its stdout, or its failure.
fn pipe_through(
    cmd: &mut Command,
    what: &'static str,
    input: &[u8],
) -> Result<Vec<u8>, SpeechError> {
    let failed = |detail: String| SpeechError::Failed { what, detail };
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| failed(e.to_string()))?;
    // The text is small (well under a pipe's buffer): written whole before reading.
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(input).map_err(|e| failed(e.to_string()))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| failed(e.to_string()))?;
    if !out.status.success() || out.stdout.is_empty() {
        return Err(failed(format!(
            "{}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(out.stdout)
}

/// The synthesisers, found once.
pub struct Synth {
    jtalk: PathBuf,
    dic: PathBuf,
    voice: PathBuf,
    espeak: PathBuf,
}

impl Synth {
    /// Finds both synthesisers and Open JTalk's data; names the package of what is
    /// missing.
    pub fn find() -> Result<Self, SpeechError> {
        Ok(Self {
            jtalk: need(on_path("open_jtalk"), "Open JTalk", "open-jtalk")?,
            dic: need(
                first(JTALK_DIC),
                "Open JTalk's dictionary",
                "open-jtalk-mecab-naist-jdic",
            )?,
            voice: need(
                first(JTALK_VOICE),
                "Open JTalk's voice",
                "hts-voice-nitech-jp-atr503-m001 (contrib)",
            )?,
            espeak: need(on_path("espeak-ng"), "eSpeak NG", "espeak-ng")?,
        })
    }

    /// The WAV of `s`, in memory.
    pub fn wav(&self, s: &Say) -> Result<Vec<u8>, SpeechError> {
        let step = usize::from(s.volume.clamp(1, VOLUME_MAX) - 1);
        match s.lang {
            Lang::Ja => {
                // Gain in dB around the voice's own level.
                let gain = ["-12", "-6", "0", "4", "8"][step];
                pipe_through(
                    Command::new(&self.jtalk)
                        .arg("-x")
                        .arg(&self.dic)
                        .arg("-m")
                        .arg(&self.voice)
                        .args(["-g", gain, "-ow", "/dev/stdout"]),
                    "Open JTalk",
                    s.text.as_bytes(),
                )
            }
            other => {
                let amplitude = ["30", "60", "100", "140", "180"][step];
                let voice = match other {
                    Lang::Zh => "cmn",
                    Lang::Ko => "ko",
                    Lang::Vi => "vi",
                    Lang::Ne => "ne",
                    _ => "en",
                };
                pipe_through(
                    Command::new(&self.espeak).args(["-v", voice, "-a", amplitude, "--stdout"]),
                    "eSpeak NG",
                    s.text.as_bytes(),
                )
            }
        }
    }
}

/// Where the kiosk's guidance goes.
pub trait Sink: Send {
    fn say(&mut self, s: Say);
}

/// The tablet's speaker: synthesis and playback on their own thread.
pub struct Speaker {
    tx: mpsc::Sender<Say>,
}

/// The ALSA device the guidance plays on, when not the default one (a ward's USB
/// headset on a tablet whose default is its loudspeaker: `plughw:Headset`).
pub const DEVICE_ENV: &str = "SHINSEI_GUIDANCE_DEVICE";

impl Speaker {
    /// Starts the speaker on ALSA's default device, or the one [`DEVICE_ENV`] names;
    /// fails when a synthesiser or the player is missing.
    pub fn start() -> Result<Self, SpeechError> {
        let device = std::env::var(DEVICE_ENV).ok().filter(|d| !d.is_empty());
        if let Some(d) = &device {
            if !plays_aloud(d) {
                return Err(SpeechError::Device(d.clone()));
            }
        }
        Self::start_on(device)
    }

    /// [`Speaker::start`] on the ALSA device `device` (`None`: the default one), taken
    /// as given: the tests play into ALSA's `file` plugin to hear what was played, which
    /// [`Speaker::start`] refuses from the configuration.
    pub fn start_on(device: Option<String>) -> Result<Self, SpeechError> {
        let synth = Synth::find()?;
        let aplay = need(on_path("aplay"), "ALSA's player (aplay)", "alsa-utils")?;
        let (tx, rx) = mpsc::channel::<Say>();
        std::thread::Builder::new()
            .name("speech".into())
            .spawn(move || speak_loop(&synth, &aplay, device.as_deref(), &rx))
            .map_err(|e| SpeechError::Failed {
                what: "the speech thread",
                detail: e.to_string(),
            })?;
        Ok(Self { tx })
    }
}

impl Sink for Speaker {
    fn say(&mut self, s: Say) {
        let _ = self.tx.send(s);
    }
}

/// Whether an ALSA device name can be a sound device: no `file` plugin (it writes what
/// is played to disk: the guidance says an applicant's choices), nothing but the
/// characters of card and plugin names.
fn plays_aloud(device: &str) -> bool {
    device.len() <= 64
        && device
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ":,=_.-".contains(c))
        && !device.to_ascii_lowercase().contains("file")
}

fn speak_loop(synth: &Synth, aplay: &Path, device: Option<&str>, rx: &mpsc::Receiver<Say>) {
    let mut playing: Option<Child> = None;
    while let Ok(mut s) = rx.recv() {
        // Only the newest prompt matters.
        while let Ok(newer) = rx.try_recv() {
            s = newer;
        }
        if let Some(mut c) = playing.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let wav = match synth.wav(&s) {
            Ok(w) => w,
            Err(e) => {
                tracing::warn!("guidance: {e}");
                continue;
            }
        };
        let mut cmd = Command::new(aplay);
        if let Some(d) = device {
            cmd.args(["-D", d]);
        }
        match cmd
            .args(["-q", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
        {
            Ok(mut child) => {
                if let Some(mut stdin) = child.stdin.take() {
                    // Written from its own thread: a cut prompt ends it with EPIPE.
                    std::thread::spawn(move || {
                        let _ = stdin.write_all(&wav);
                    });
                }
                playing = Some(child);
            }
            Err(e) => tracing::warn!("guidance: aplay: {e}"),
        }
    }
    if let Some(mut c) = playing {
        let _ = c.kill();
        let _ = c.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_configured_device_never_plays_into_a_file() {
        assert!(plays_aloud("plughw:Headset"));
        assert!(plays_aloud("default"));
        assert!(plays_aloud("hw:1,0"));
        assert!(!plays_aloud("file:FILE=/tmp/a.wav,FORMAT=wav"));
        assert!(!plays_aloud("plug:'file:/tmp/x'"));
        assert!(!plays_aloud(&"h".repeat(65)));
    }
}
