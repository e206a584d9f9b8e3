exports.formatOrder = (order) => `order #${order.id}: ${(order.total / 100).toFixed(2)} EUR`;
