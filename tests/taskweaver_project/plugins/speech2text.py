from taskweaver.plugin import Plugin, register_plugin

try:
    import whisper
except ImportError:
    raise ImportError("Please install whisper with `pip install openai-whisper`.")


@register_plugin
class Speech2Text(Plugin):
    model = None

    def __call__(self, audio_path):
        if self.model is None:
            self.model = whisper.load_model("base")
        return self.model.transcribe(audio_path)["text"]
