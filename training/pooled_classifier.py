"""A BERT-family encoder with a linear head over its mean-pooled token states, for sequence classification.

Sentence encoders such as all-MiniLM-L6-v2 were trained to be read through the mean of their token states.
`BertForSequenceClassification` reads them through the pooler on the [CLS] token, a layer the sentence objective
never trained (the checkpoint carries it over from the masked-language model it started from). The head here
reads the encoder the way it was trained to be read: on CLINC150's development slice the intent model's argmax
accuracy was 0.925 against 0.907 with the pooler (three seeds each).

Self-contained (torch and transformers only) on purpose: `save_pretrained` copies this file next to the weights
and names it in the config's `auto_map`, so a saved folder loads anywhere with
`AutoModelForSequenceClassification.from_pretrained(folder, trust_remote_code=True)`, MLflow's transformers flavor
included. Importing this module registers the type, so code that imports it loads folders without that flag.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import (
    AutoConfig,
    AutoModelForSequenceClassification,
    BertConfig,
    BertModel,
    BertPreTrainedModel,
)
from transformers.modeling_outputs import SequenceClassifierOutput


class MeanPooledBertConfig(BertConfig):
    model_type = "convbot_mean_pooled_bert"


class MeanPooledBertForSequenceClassification(BertPreTrainedModel):
    """`BertModel` without its pooler, then dropout and a linear layer over the mask-weighted mean of the last
    hidden states. Single-label classification: cross-entropy when `labels` are given."""

    config_class = MeanPooledBertConfig

    def __init__(self, config: MeanPooledBertConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.bert = BertModel(config, add_pooling_layer=False)
        dropout = config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, labels=None, **kwargs):
        hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask,
                           token_type_ids=token_type_ids).last_hidden_state
        if attention_mask is None:
            attention_mask = torch.ones(hidden.shape[:2], dtype=torch.long, device=hidden.device)
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        logits = self.classifier(self.dropout(pooled))
        loss = None
        if labels is not None:
            loss = nn.functional.cross_entropy(logits.view(-1, self.num_labels), labels.view(-1))
        return SequenceClassifierOutput(loss=loss, logits=logits)


MeanPooledBertConfig.register_for_auto_class()
MeanPooledBertForSequenceClassification.register_for_auto_class("AutoModelForSequenceClassification")
# exist_ok: the copy saved next to a model registers the same type again when it is loaded as remote code
AutoConfig.register(MeanPooledBertConfig.model_type, MeanPooledBertConfig, exist_ok=True)
AutoModelForSequenceClassification.register(MeanPooledBertConfig, MeanPooledBertForSequenceClassification,
                                            exist_ok=True)
