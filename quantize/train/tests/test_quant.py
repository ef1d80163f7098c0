import torch

from boatrain.model import BoaModel, ModelConfig
from boatrain.quant import ActQuant, QuantConfig, fake_quant_weight


def test_fake_quant_weight_per_channel_grid_and_ste():
    torch.manual_seed(0)
    w = (torch.randn(5, 7) * torch.tensor([0.01, 0.1, 1.0, 10.0, 100.0]).unsqueeze(1)).requires_grad_()
    q = fake_quant_weight(w, 8)
    scale = w.detach().abs().amax(1, keepdim=True) / 127
    k = q.detach() / scale
    assert torch.allclose(k, k.round(), atol=1e-4) and k.abs().max() <= 127 + 1e-4
    assert torch.allclose(k.abs().amax(1), torch.full((5,), 127.0))      # per-row scale
    assert ((q - w).abs() <= scale / 2 + 1e-6).all()
    q.sum().backward()
    assert torch.equal(w.grad, torch.ones_like(w))                        # straight through


def test_act_quant_observer_and_round_half_up():
    aq = ActQuant(8)
    aq.quant = QuantConfig(momentum=0.5)
    aq.train()
    x = torch.tensor([-2.0, 0.0, 1.0, 127.0])
    y = aq(x)
    assert aq.absmax.item() == 127.0 and torch.equal(y, x)
    aq(torch.tensor([63.0]))  # EMA: 0.5*127 + 0.5*63 = 95
    assert aq.absmax.item() == 95.0
    aq.eval()
    aq(torch.tensor([1000.0]))  # eval mode never updates the observer
    assert aq.absmax.item() == 95.0
    s = 95.0 / 127
    assert abs(aq(torch.tensor([2.5 * s])).item() - 3 * s) < 1e-6       # half up
    assert abs(aq(torch.tensor([-2.5 * s])).item() - (-2 * s)) < 1e-6
    assert abs(aq(torch.tensor([1e6])).item() - 95.0) < 1e-4              # clamp at 127


def test_qat_close_to_float_and_names_unchanged():
    torch.manual_seed(1)
    m = BoaModel(ModelConfig(d_model=32, n_layers=2))
    names = list(m.state_dict())
    x = torch.randint(0, 256, (4, 64))
    with torch.no_grad():
        ref = torch.log_softmax(m(x), -1)
        m.set_quant(QuantConfig())
        m.train()
        m(x)  # calibrate the observers
        m.eval()
        q = torch.log_softmax(m(x), -1)
    assert list(m.state_dict()) == names
    sites = [n for n, mod in m.named_modules() if isinstance(mod, ActQuant)]
    # model: res, head.in, logits, relu in; per layer: 2 LN outputs, 7 mamba sites, the scan
    # increment's observer, 4 tables with in and out
    assert len(sites) == 4 + 2 * (2 + 8 + 8)
    err = (q.exp() - ref.exp()).abs().sum(-1).mean()  # mean total-variation distance of the predictions
    assert 0 < err < 0.1, err


def test_qat_gradients_flow():
    torch.manual_seed(2)
    m = BoaModel(ModelConfig(d_model=16, n_layers=1), quant=QuantConfig())
    x = torch.randint(0, 256, (2, 20))
    logits = m(x[:, :-1])
    torch.nn.functional.cross_entropy(logits.reshape(-1, 256), x[:, 1:].reshape(-1)).backward()
    for n, p in m.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), n
        assert p.grad.abs().sum() > 0, n
