"""Speech pre-classification: AudioSocket audio, VAD endpointing, Vosk ASR, transcript classifier."""
