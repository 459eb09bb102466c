"""Teaching pixgrade a catalogue's own standard: judgements to a scale, active selection, and adaptation.

- :mod:`pixgrade.label.scale`: grades and comparisons to one 0–5 scale (Bradley–Terry with ``choix``), annotator
  bias correction, agreement report;
- :mod:`pixgrade.label.transfer`: import grade CSVs, export a training manifest of fitted scores;
- :mod:`pixgrade.label.features`: the model's pooled features of each image, computed once and cached in the
  catalogue;
- :mod:`pixgrade.label.selection`: which image or pair to ask about next (active or random);
- :mod:`pixgrade.label.adapt`: fine-tune the score head on cached features, with cross-validation.
"""
