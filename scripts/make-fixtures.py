#!/usr/bin/env python3
"""Writes test/fixtures/: small checkpoints with random weights and the outputs the reference implementations
compute for them (test/fixtures/README.md says what each folder holds; docs/FFF-SPEC.md what is computed).

NOT RUN IN CI, and not needed to build or test fffbert: the fixtures are committed. This script records how
they were made, so that they can be re-made or extended. It needs what the tests must not depend on:

  * ufb-tiny, ufb-tiny-k2: the UltraFastBERT authors' model code (github.com/pbelcak/UltraFastBERT,
    training/cramming/architectures/: crammed_bert.py, fff.py and what they import) on PYTHONPATH, PyTorch 1.13
    (the version that code was written for), fp32 on CPU;
  * bert-tiny-mlm, bert-tiny-cls: `transformers` 5.17 (modeling_bert.py), PyTorch 2.x, fp32 on CPU;
  * crammed-tokenizer, tokenizer-cases.json: `tokenizers` 0.23, the BERT uncased tokenizer.json (the one in
    the bert-tiny folders) as --bert-tokenizer and a WordPiece vocabulary as --crammed-vocab.
The two model families need different PyTorch versions, hence --only. Usage:

  python3 scripts/make-fixtures.py --out test/fixtures --only ufb       # in the authors' environment
  python3 scripts/make-fixtures.py --out test/fixtures --only bert      # with transformers
  python3 scripts/make-fixtures.py --out test/fixtures --only tokenizers --bert-tokenizer PATH/tokenizer.json \\
      --crammed-vocab PATH/vocab.txt

Reconstructed from the fixtures themselves (their reference.json, shapes, input layout and weight statistics)
after the one-off script that first wrote them was lost: re-running it gives fixtures of the same kind, shapes
and checks, not byte-identical files (random streams differ between PyTorch versions anyway).

Weights are random but scaled so that signals stay alive through every layer: matrices ~ N(0, 1/fan_in),
embeddings ~ N(0, 1), LayerNorm weights 1 + N(0, 0.1), biases N(0, 0.1). A wrong formula then shows up as a
large error rather than vanishing in a dead signal.
"""
import argparse
import json
import os

UFB_PRESETS = {
    # preset: hidden, layers, heads, FFF depth D, trees K, vocab, max_seq, batch, seq
    'ufb-tiny': dict(preset='tiny', hidden=64, layers=2, heads=4, depth=3, trees=1, vocab=512, max_seq=32,
                     batch=3, seq=32, lengths=[32, 27, 22]),
    'ufb-tiny-k2': dict(preset='tiny-k2', hidden=48, layers=2, heads=4, depth=2, trees=2, vocab=300, max_seq=24,
                        batch=2, seq=19, lengths=[19, 14]),
}
BERT_PRESETS = {
    'bert-tiny-mlm': dict(kind='mlm', hidden=32, layers=2, heads=2, inter=128, max_pos=64, batch=3, seq=24,
                          lengths=[24, 17, 10]),
    'bert-tiny-cls': dict(kind='cls', hidden=32, layers=2, heads=2, inter=128, max_pos=64, labels=3, batch=3,
                          seq=24, lengths=[24, 17, 10]),
}
SEED = 1234
FFF_PROBE_TOKENS = 64


def randomize_(torch, model):
    """Scales every parameter as the module docstring says (in place, deterministic under torch.manual_seed)."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() >= 2 and 'embedding' not in name:
                p.normal_(0.0, 1.0 / p.shape[-1] ** 0.5)
            elif p.dim() >= 2:
                p.normal_(0.0, 1.0)
            elif 'norm' in name.lower() and name.endswith('weight'):
                p.copy_(1.0 + 0.1 * torch.randn_like(p))
            elif p.dim() == 1 and p.numel() > 1:
                p.normal_(0.0, 0.1)


def write_safetensors(path, tensors):
    from safetensors.torch import save_file
    save_file({k: v.contiguous() for k, v in tensors.items()}, path, metadata={'format': 'pt'})


def write_json(path, obj):
    with open(path, 'w') as f:
        json.dump(obj, f, indent=2)
        f.write('\n')


def inputs(torch, p, vocab, first_id=None):
    """input_ids [B, S] int64 in [1, vocab) (0 is padding), attention_mask [B, S] of 1/0: row b attends to its
    first p['lengths'][b] tokens, so rows after the first are padded at the end."""
    batch, seq = p['batch'], p['seq']
    ids = torch.randint(1, vocab, (batch, seq), dtype=torch.int64)
    mask = torch.zeros(batch, seq, dtype=torch.int64)
    for b, n in enumerate(p['lengths']):
        mask[b, :n] = 1
        ids[b, n:] = 0
    if first_id is not None:
        ids[:, 0] = first_id
    return ids, mask


def make_ufb(out, name, p):
    import torch
    # The authors' code (training/cramming/architectures/ on PYTHONPATH).
    from crammed_bert import ScriptableLMForPreTraining, crammedBertConfig  # noqa: E402

    torch.manual_seed(SEED)
    arch = default_crammed_arch(p)
    model = ScriptableLMForPreTraining(crammedBertConfig(arch)).eval()
    randomize_(torch, model)
    ids, mask = inputs(torch, p, p['vocab'])
    with torch.no_grad():
        hidden = model.encoder(ids, mask)  # after final_norm: [B, S, H]
        logits = model.decoder(model.prediction_head(hidden))  # [B, S, V]
        fff = model.encoder.layers[0].ffn
        x = torch.randn(FFF_PROBE_TOKENS, p['hidden'])
        y = fff(x)
        paths = fff_paths(torch, fff, x, p['depth'], p['trees'])

    folder = os.path.join(out, name)
    os.makedirs(folder, exist_ok=True)
    state = {k: v for k, v in model.state_dict().items() if not k.endswith('.pe')}
    write_safetensors(os.path.join(folder, 'model.safetensors'), state)
    write_json(os.path.join(folder, 'model_config.json'), arch)
    write_json(os.path.join(folder, 'config.json'), {
        'architectures': ['ScriptableLMForPreTraining'], 'model_type': 'crammedBERT', 'arch': arch,
        'torch_dtype': 'float32'})
    ref = {'input_ids': ids, 'attention_mask': mask, 'last_hidden_state': hidden, 'fff_layer0_input': x,
           'fff_layer0_output': y, 'fff_layer0_paths': paths, 'mlm_logits': logits}
    write_safetensors(os.path.join(folder, 'reference.safetensors'), ref)
    write_json(os.path.join(folder, 'reference.json'), {
        'preset': p['preset'], 'seed': SEED,
        'params': {k: p[k] for k in ('hidden', 'layers', 'heads', 'depth', 'trees', 'vocab', 'max_seq', 'batch',
                                     'seq')},
        'torch': torch.__version__, 'tensors': {k: list(v.shape) for k, v in ref.items()},
        'compare': 'last_hidden_state and mlm logits only where attention_mask == 1'})


def fff_paths(torch, fff, x, depth, trees):
    """The node visited (within its tree) at each level, per tree: docs/FFF-SPEC.md section 1, l > 0 goes right."""
    n_nodes = 2 ** (depth + 1) - 1
    logits = fff.linear_in(x)  # [T, K * n_nodes]
    paths = torch.zeros(x.shape[0], trees, depth + 1, dtype=torch.int64)
    for t in range(x.shape[0]):
        for k in range(trees):
            n = 0
            for level in range(depth + 1):
                paths[t, k, level] = n
                n = 2 * n + 1 + int(logits[t, k * n_nodes + n] > 0)
    return paths


def default_crammed_arch(p):
    """The architecture of the authors' bert-c5 / UltraFastBERT configs, at the preset's sizes."""
    return {
        'architectures': ['ScriptableCrammedBERT'], 'num_transformer_layers': p['layers'], 'intermed_type': 'fff',
        'hidden_size': p['hidden'], 'intermed_size': p['trees'], 'intermed_depth': p['depth'],
        'hidden_dropout_prob': 0.1, 'norm': 'LayerNorm', 'norm_eps': 1e-12, 'norm_scheme': 'pre', 'nonlin': 'GELU',
        'tie_weights': True, 'decoder_bias': False, 'sparse_prediction': 0.25, 'loss': 'cross-entropy',
        'objective_layout': 'MLM',
        'embedding': {'vocab_size': p['vocab'], 'pos_embedding': 'scaled-sinusoidal', 'dropout_prob': 0.1,
                      'pad_token_id': 0, 'max_seq_length': p['max_seq'], 'embedding_dim': p['hidden'],
                      'normalization': True, 'stable_low_precision': False},
        'attention': {'type': 'self-attention', 'causal_attention': False, 'num_attention_heads': p['heads'],
                      'dropout_prob': 0.1, 'skip_output_projection': False, 'qkv_bias': False,
                      'rotary_embedding': False, 'seq_op_in_fp32': False, 'sequence_op': 'torch-softmax',
                      'high_level_fusion': False, 'low_level_fusion': False},
        'init': {'type': 'normal', 'std': 0.02}, 'ffn_layer_frequency': 1, 'skip_head_transform': True,
        'use_bias': False, 'final_norm': True, 'num_labels': None,
        'classification_head': {'pooler': 'avg', 'include_ff_layer': True, 'head_dim': 1024, 'nonlin': 'Tanh',
                                'classifier_dropout': 0.1},
    }


def make_bert(out, name, p, bert_tokenizer_dir):
    import shutil

    import torch
    import transformers
    from transformers import BertConfig, BertForMaskedLM, BertForSequenceClassification

    torch.manual_seed(SEED)
    cfg = BertConfig(vocab_size=30522, hidden_size=p['hidden'], num_hidden_layers=p['layers'],
                     num_attention_heads=p['heads'], intermediate_size=p['inter'], max_position_embeddings=p['max_pos'],
                     hidden_act='gelu', type_vocab_size=2, layer_norm_eps=1e-12,
                     num_labels=p.get('labels', 2))
    cls = BertForMaskedLM if p['kind'] == 'mlm' else BertForSequenceClassification
    model = cls(cfg).eval()
    randomize_(torch, model)
    ids, mask = inputs(torch, p, cfg.vocab_size, first_id=101)  # [CLS] first
    half = p['seq'] // 2
    types = torch.zeros_like(ids)
    types[:, half:] = 1  # a sentence pair: the second half is segment B
    types *= mask
    with torch.no_grad():
        o = model(input_ids=ids, attention_mask=mask, token_type_ids=types, output_hidden_states=True)
    ref = {'attention_mask': mask, 'input_ids': ids, 'token_type_ids': types,
           'last_hidden_state': o.hidden_states[-1]}
    if p['kind'] == 'mlm':
        ref['mlm_logits_row0'] = o.logits[0]  # [S, V]: the whole [B, S, V] would be 9 MB
    else:
        ref['pooler_output'] = model.bert.pooler(o.hidden_states[-1])
        ref['logits'] = o.logits

    folder = os.path.join(out, name)
    os.makedirs(folder, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    for f in ('tokenizer.json', 'tokenizer_config.json'):
        shutil.copy(os.path.join(bert_tokenizer_dir, f), os.path.join(folder, f))
    write_safetensors(os.path.join(folder, 'reference.safetensors'), ref)
    write_json(os.path.join(folder, 'reference.json'), {
        'preset': name, 'params': {k: v for k, v in p.items() if k != 'lengths'}, 'class': cls.__name__, 'torch': torch.__version__,
        'transformers': transformers.__version__, 'tensors': {k: list(v.shape) for k, v in ref.items()},
        'compare': 'per-token outputs only where attention_mask == 1'})


TOKENIZER_TEXTS = [
    'Hello, world!', 'The capital of France is [MASK].', 'paris is the <mask> of france.',
    "Don't stop-believing... it's 3.14159!", 'UNAFFABLE unaffable', 'naïve café résumé',
    '北京 is in 中国', 'emoji 🙂 and tabs\tand\nnewlines', '   leading and trailing spaces   ', '',
    'a' * 300, 'supercalifragilisticexpialidocious antidisestablishmentarianism', '[CLS] [SEP] [PAD] [UNK]',
]
PAIR_TEXT = 'second sentence here'


def make_tokenizers(out, bert_tokenizer_json, crammed_vocab):
    from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers, processors

    # crammedBERT-style WordPiece as the authors' tokenizer.json is built (normalizers, Whitespace
    # pre-tokenizer, "$A <sep>" for one sequence, "<cls> $A <sep> $B <sep>" for pairs, every type id 0) over a
    # vocabulary of one token per line (--crammed-vocab; the committed file's own vocabulary is its record).
    with open(crammed_vocab, encoding='utf-8') as f:
        vocab = {line.rstrip('\n'): i for i, line in enumerate(f) if line.rstrip('\n')}
    tok = Tokenizer(models.WordPiece(vocab, unk_token='<unk>', continuing_subword_prefix='##'))
    tok.normalizer = normalizers.Sequence([
        normalizers.Replace('``', '"'), normalizers.Replace("''", '"'), normalizers.NFD(), normalizers.Lowercase(),
        normalizers.StripAccents(), normalizers.Replace(Regex(' {2,}'), ' ')])
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    sep, cls = vocab['<sep>'], vocab['<cls>']
    tok.post_processor = processors.TemplateProcessing(single='$A <sep>', pair='<cls> $A <sep> $B <sep>',
                                                       special_tokens=[('<sep>', sep), ('<cls>', cls)])
    os.makedirs(os.path.join(out, 'crammed-tokenizer'), exist_ok=True)
    tok.save(os.path.join(out, 'crammed-tokenizer', 'tokenizer.json'))

    bert = Tokenizer.from_file(bert_tokenizer_json)
    bert.enable_truncation(64)
    cases = {'bert-uncased': [], 'crammed-style': []}
    for key, t in (('bert-uncased', bert), ('crammed-style', tok)):
        for text in TOKENIZER_TEXTS:
            one, pair = t.encode(text), t.encode(text, PAIR_TEXT)
            case = {'text': text, 'ids': one.ids, 'pair_ids': pair.ids}
            if key == 'bert-uncased':
                case['pair_type_ids'] = pair.type_ids
            cases[key].append(case)
    cases['_note'] = ('bert-uncased: BERT uncased tokenizer, truncated to 64 tokens; crammed-style: not truncated. '
                      'Special tokens written in the text ([MASK], <mask>) are matched whole.')
    write_json(os.path.join(out, 'tokenizer-cases.json'), cases)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--out', default='test/fixtures')
    ap.add_argument('--only', choices=['ufb', 'bert', 'tokenizers'], required=True)
    ap.add_argument('--bert-tokenizer', help='the BERT uncased tokenizer.json (bert and tokenizers)')
    ap.add_argument('--crammed-vocab', help='crammed-style WordPiece vocabulary, one token per line (tokenizers)')
    a = ap.parse_args()
    if a.only == 'ufb':
        for name, p in UFB_PRESETS.items():
            make_ufb(a.out, name, p)
    elif a.only == 'bert':
        if not a.bert_tokenizer:
            ap.error('--bert-tokenizer is required for the bert fixtures')
        for name, p in BERT_PRESETS.items():
            make_bert(a.out, name, p, os.path.dirname(a.bert_tokenizer))
    else:
        if not a.bert_tokenizer or not a.crammed_vocab:
            ap.error('--bert-tokenizer and --crammed-vocab are required for the tokenizer fixtures')
        make_tokenizers(a.out, a.bert_tokenizer, a.crammed_vocab)


if __name__ == '__main__':
    main()
