"""Audio labeling: containers through PyAV (``codec``), and the label/verify glue (``pipeline``); files
are labeled path to path in bounded memory by ``streaming`` (work file and windowed marking in ``raw``).

Array-level API for other media (e.g. a video's soundtrack), all on float32 frames x channels:

* ``labeler.watermark.audio.embed_audio(pcm, sample_rate, watermark_id, key, settings)`` -> marked pcm
* ``labeler.watermark.audio.detect_audio(pcm, sample_rate, key, settings)`` -> ``AudioDetection``
  (per-segment results in ``.segments``); ``detect_excerpt`` for one excerpt
* ``labeler.explicit.audio_prompt.add_prompt(pcm, sample_rate, PromptOptions(...))`` and
  ``detect_prompt(pcm, sample_rate)`` -> ``PromptDetection``
"""
