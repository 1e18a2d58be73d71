"""The paper exchange's success answers (rt_cd "0"), shared by its KRX and overseas endpoints: KIS mock's msg_cd
and msg1 where the samples show them, guesses where marked."""
from __future__ import annotations

OK_QUOTE = ("MCA00000", "정상처리 되었습니다.")
OK_INQUIRY = ("20310000", "모의투자 조회가 완료되었습니다.")
OK_BUY = ("40600000", "모의투자 매수주문이 완료 되었습니다.")
OK_SELL = ("40600000", "모의투자 매도주문이 완료 되었습니다.")
OK_REVISE = ("40610000", "모의투자 정정주문이 완료 되었습니다.")  # guess
OK_CANCEL = ("40640000", "모의투자 취소주문이 완료 되었습니다.")  # guess
# EGW00215: the ledger's own per-second limit (not the gateway's); on an order the outcome is unknown. Wording a guess.
LEDGER_BUSY = ("EGW00215", "초당 거래건수를 초과하였습니다.")


class OrderAnswers:
    """The answer to an order or cancel the exchange took, KRX or US: KIS's output, with the order-path faults
    (kis/sim/faults.py) applied as KIS would show them. Mixed into the protocol, which gives `_ok`, `_refuse` and
    `faults`."""

    def _acked(self, output: dict, ok: tuple[str, str], tr_id: str):
        response = self._ok(ok, tr_id, output=output)
        if self.faults.take_ledger_busy_after_order():
            return self._refuse(*LEDGER_BUSY, 500, tr_id)  # taken, yet answered as refused: outcome unknown
        if self.faults.take_drop_after_order():
            response.drop = True  # the exchange has the order; the client never hears so
        return response
