"""The offline ``tiny`` preset: real diffusers pipeline classes with tiny random weights.

Built once into ``$TIERFLOW_HOME/models/tiny-*`` with ``save_pretrained`` and then loaded with
``from_pretrained(..., local_files_only=True)``, the path real checkpoints take.
"""
